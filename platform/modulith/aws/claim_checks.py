"""Claim checks: an event too large for its transport travels with its data in S3.

Going out (the relay's delivery, in each AWS transport's send; never in the publisher's
transaction): an event whose wire JSON is over the transport's threshold (what the service
takes, less headroom for attributes, or MODULITH_CLAIM_CHECK_BYTES if lower) has its data's
JSON put in the claim-check bucket under `<source>/<event id>.json`, and is sent with a
reference to it instead (`DataReference`: bucket, key, size, sha256). Putting it again, on a
retry or for another route, writes the same bytes under the same key. S3 that cannot be reached
(or refuses us) is not the event's fault: the event's outcome is `unavailable`, and the relay
pauses the route as it does for a broker outage.

Coming in (the queue consumer and the Lambda consume function, through the processor): a
reference is checked like any input before S3 is asked (the bucket must be ours, the key the
one its source and event id give, the size within MODULITH_MAX_EVENT_BYTES), then the object is
read, and its size and digest compared; any of these failing is a dead letter with its reason.
An object gone for good (NoSuchKey) is `claim_check_missing`; S3 unreachable is a dependency
outage (ClaimCheckUnavailable): the message is held, never dead-lettered.
"""

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, Protocol
from uuid import UUID

from modulith.transports.envelope import (
    INVALID_REFERENCE,
    DataReference,
    Envelope,
    MalformedEvent,
    parse_json,
)
from modulith.transports.transport import Outcome

# What a message carries besides its body (attributes, and for EventBridge its envelope's
# fields), kept free below the service's limit.
HEADROOM_BYTES = 4 * 1024
MISSING = "claim_check_missing"
MISMATCH = "claim_check_mismatch"
_GONE = {"NoSuchKey"}


class ClaimCheckUnavailable(Exception):
    """S3 cannot be reached, or refuses us (a permission, a bucket that is not there): the
    event is not at fault, so it waits, with its attempts and receives untouched."""


class Storage(Protocol):
    """Where claim checks go: the AWS context's S3 client and bucket, both made on first use."""

    @property
    def s3(self) -> Any: ...

    @property
    def claim_check_bucket(self) -> str: ...


def claim_key(source: str, event_id: UUID) -> str:
    """The object of an event's data: under its source, so that each producer may be allowed
    to write only its own prefix and each consumer to read only the sources it believes."""
    return f"{source}/{event_id}.json"


class ClaimChecks:
    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    @staticmethod
    def threshold(max_message_bytes: int, lowered_to: int | None) -> int:
        """Above how many bytes of wire JSON an event goes by claim check."""
        own = max_message_bytes - HEADROOM_BYTES
        return own if lowered_to is None else min(own, lowered_to)

    def send(
        self,
        envelopes: Sequence[Envelope],
        threshold: int | None,
        send: Callable[[list[Envelope]], list[Outcome]],
    ) -> list[Outcome]:
        """Sends the envelopes with `send`, those over `threshold` as claim checks; one outcome
        per envelope, in order. Once S3 fails, the other large ones of the batch are not tried:
        they wait as it does, and the small ones go."""
        ready: list[Envelope | Outcome] = []
        down: Outcome | None = None
        for envelope in envelopes:
            if threshold is None or not _over(envelope, threshold):
                ready.append(envelope)
            elif down is not None:
                ready.append(down)
            else:
                try:
                    ready.append(self._stored(envelope))
                except Exception as error:  # S3 down, throttling or refusing: not the event's
                    down = Outcome.unavailable_because(
                        f"claim-check bucket unavailable: {type(error).__name__}: {error}"
                    )
                    ready.append(down)
        sendable = [item for item in ready if isinstance(item, Envelope)]
        sent = iter(send(sendable) if sendable else [])
        return [next(sent) if isinstance(item, Envelope) else item for item in ready]

    def _stored(self, envelope: Envelope) -> Envelope:
        """The envelope with its data put in the bucket and a reference in its place."""
        data = json.dumps(envelope.data, separators=(",", ":"), sort_keys=True).encode()
        bucket = self.storage.claim_check_bucket
        key = claim_key(envelope.source, envelope.event_id)
        self.storage.s3.put_object(
            Bucket=bucket, Key=key, Body=data, ContentType="application/json"
        )
        reference = DataReference(
            bucket=bucket, key=key, size=len(data), sha256=hashlib.sha256(data).hexdigest()
        )
        return replace(envelope, data={}, data_reference=reference)

    def resolve(self, envelope: Envelope, *, max_bytes: int) -> Envelope:
        """The envelope with its data, read from the bucket when it came by claim check.
        Raises MalformedEvent (with its reason) for a reference that can never be resolved,
        ClaimCheckUnavailable while S3 cannot be reached."""
        reference = envelope.data_reference
        if reference is None:
            return envelope
        self._check(envelope, reference, max_bytes)
        try:
            response = self.storage.s3.get_object(Bucket=reference.bucket, Key=reference.key)
            # One byte more than it should be: a larger object is told apart unread.
            body = response["Body"].read(reference.size + 1)
        except Exception as error:
            if _error_code(error) in _GONE:
                raise MalformedEvent(
                    f"the claim check {reference.key} is not in {reference.bucket} (expired or "
                    "deleted)",
                    reason=MISSING,
                ) from None
            raise ClaimCheckUnavailable(
                f"claim-check bucket unavailable: {type(error).__name__}: {error}"
            ) from error
        if len(body) != reference.size or hashlib.sha256(body).hexdigest() != reference.sha256:
            raise MalformedEvent(
                f"the claim check {reference.key} does not hold what its reference says "
                f"({reference.size} bytes, sha256 {reference.sha256})",
                reason=MISMATCH,
            )
        try:
            data = parse_json(body.decode("utf-8"), max_bytes=max_bytes)
        except UnicodeDecodeError:
            raise MalformedEvent(f"the claim check {reference.key} is not UTF-8") from None
        if not isinstance(data, dict):
            raise MalformedEvent(f"the claim check {reference.key} must hold a JSON object")
        return replace(envelope, data=data, data_reference=None)

    def _check(self, envelope: Envelope, reference: DataReference, max_bytes: int) -> None:
        """A reference is input like any other: it may name only our bucket, only the object
        its event's source and id give, and no more than an event may hold."""
        bucket = self.storage.claim_check_bucket
        if reference.bucket != bucket:
            raise MalformedEvent(
                f"dataRef.bucket {reference.bucket!r} is not the claim-check bucket {bucket}",
                reason=INVALID_REFERENCE,
            )
        key = claim_key(envelope.source, envelope.event_id)
        if reference.key != key:
            raise MalformedEvent(
                f"dataRef.key {reference.key[:200]!r} must be {key!r} (<source>/<event id>.json)",
                reason=INVALID_REFERENCE,
            )
        if reference.size > max_bytes:
            raise MalformedEvent(
                f"dataRef.size {reference.size} is more than the {max_bytes} bytes an event may "
                "have (MODULITH_MAX_EVENT_BYTES)",
                reason="oversized",
            )


def _over(envelope: Envelope, threshold: int) -> bool:
    body = envelope.to_json()  # made once per envelope; the relay sized its batch by it
    return len(body) > threshold or len(body.encode()) > threshold


def _error_code(error: Exception) -> str:
    """The AWS error code of a botocore ClientError (read without importing botocore)."""
    response = getattr(error, "response", None)
    if not isinstance(response, dict):
        return ""
    return str(response.get("Error", {}).get("Code", ""))
