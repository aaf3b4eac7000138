"""Creating the claim-check bucket idempotently, with what keeps it safe: encryption at rest,
public access blocked, a TLS-only policy, and the rule that expires its objects after the
redelivery window. A setting changed by hand is reported and put back; a stronger encryption
(KMS) set by hand is kept."""

import json
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from modulith.aws.resources import CLAIM_CHECK_EXPIRY_RULE, BucketSpec, bucket_policy

ENCRYPTIONS = {"AES256", "aws:kms", "aws:kms:dsse"}
ENCRYPTION = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}
PUBLIC_ACCESS_BLOCKED = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}
_MISSING = {
    "NoSuchBucket",
    "404",
    "NoSuchBucketPolicy",
    "NoSuchLifecycleConfiguration",
    "NoSuchPublicAccessBlockConfiguration",
    "ServerSideEncryptionConfigurationNotFoundError",
}
# Records a change; True when it should be carried out (not a dry run).
Change = Callable[[str, str, str, str], bool]


def lifecycle(spec: BucketSpec) -> dict[str, Any]:
    return {
        "Rules": [
            {
                "ID": CLAIM_CHECK_EXPIRY_RULE,
                "Status": "Enabled",
                "Filter": {"Prefix": ""},
                "Expiration": {"Days": spec.expiry_days},
                "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
            }
        ]
    }


class BucketProvisioner:
    def __init__(self, s3: Any, region: str, partition: str, change: Change) -> None:
        self.s3 = s3
        self.region = region
        self.partition = partition
        self.change = change

    def apply(self, spec: BucketSpec, name: str) -> None:
        """Ensures the bucket `name` (the spec's, with the account and region put in)."""
        exists = self._read(lambda: self.s3.head_bucket(Bucket=name)) is not None
        if not exists:
            if not self.change("create", "claim-check bucket", name, ""):
                self._plan_settings(spec, name)
                return
            options: dict[str, Any] = {}
            if self.region != "us-east-1":  # the one region that takes no constraint
                options["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
            self.s3.create_bucket(Bucket=name, **options)
        self._settings(spec, name, new=not exists)

    def _plan_settings(self, spec: BucketSpec, name: str) -> None:
        for kind, detail in self._details(spec):
            self.change("create", kind, name, detail)

    def _details(self, spec: BucketSpec) -> list[tuple[str, str]]:
        return [
            ("bucket encryption", "SSE-S3"),
            ("bucket public access block", "all public access blocked"),
            ("bucket policy", "deny non-TLS"),
            ("bucket lifecycle", f"expire objects after {spec.expiry_days} days"),
        ]

    def _settings(self, spec: BucketSpec, name: str, *, new: bool) -> None:
        (encryption, blocked, policy, expiry) = self._details(spec)
        arn = f"arn:{self.partition}:s3:::{name}"
        current = None if new else self._read(lambda: self.s3.get_bucket_encryption(Bucket=name))
        if not _encrypted(current) and self._say(new, current, *encryption, name):
            self.s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration=ENCRYPTION)
        current = None if new else self._read(lambda: self.s3.get_public_access_block(Bucket=name))
        found = (current or {}).get("PublicAccessBlockConfiguration")
        if found != PUBLIC_ACCESS_BLOCKED and self._say(new, current, *blocked, name):
            self.s3.put_public_access_block(
                Bucket=name, PublicAccessBlockConfiguration=PUBLIC_ACCESS_BLOCKED
            )
        wanted = bucket_policy(arn)
        current = None if new else self._read(lambda: self.s3.get_bucket_policy(Bucket=name))
        if (current is None or json.loads(current["Policy"]) != wanted) and self._say(
            new, current, *policy, name
        ):
            self.s3.put_bucket_policy(Bucket=name, Policy=json.dumps(wanted))
        rules = lifecycle(spec)
        current = (
            None
            if new
            else self._read(lambda: self.s3.get_bucket_lifecycle_configuration(Bucket=name))
        )
        if not _expires(current, rules) and self._say(new, current, *expiry, name):
            # The bucket's other rules, set by hand, stand beside ours.
            others = [
                rule
                for rule in (current or {}).get("Rules", [])
                if rule.get("ID") != CLAIM_CHECK_EXPIRY_RULE
            ]
            self.s3.put_bucket_lifecycle_configuration(
                Bucket=name, LifecycleConfiguration={"Rules": others + rules["Rules"]}
            )

    def _say(self, new: bool, current: Any, kind: str, detail: str, name: str) -> bool:
        return self.change("create" if new or current is None else "update", kind, name, detail)

    def _read(self, call: Callable[[], Any]) -> Any:
        """What the call answers; None when what it reads does not exist."""
        try:
            return call()
        except ClientError as error:
            if str(error.response.get("Error", {}).get("Code")) in _MISSING:
                return None
            raise


def _encrypted(current: Any) -> bool:
    rules = (current or {}).get("ServerSideEncryptionConfiguration", {}).get("Rules", [])
    return any(
        rule.get("ApplyServerSideEncryptionByDefault", {}).get("SSEAlgorithm") in ENCRYPTIONS
        for rule in rules
    )


def _expires(current: Any, wanted: dict[str, Any]) -> bool:
    """The bucket has our expiry rule as we want it (other rules of its own may stand)."""
    [rule] = wanted["Rules"]
    for found in (current or {}).get("Rules", []):
        if found.get("ID") == rule["ID"]:
            return bool(
                found.get("Status") == rule["Status"]
                and found.get("Expiration") == rule["Expiration"]
                and found.get("AbortIncompleteMultipartUpload")
                == rule["AbortIncompleteMultipartUpload"]
                and found.get("Filter", {}).get("Prefix", "") == ""
            )
    return False
