"""Fixtures for tests against the AWS emulator, a real moto server reached over HTTP.

- `aws_emulator` (session): one emulator per test process (each pytest-xdist worker has its
  own).
- `aws`: points this test's process at the emulator through the standard variables and gives
  it resource names of its own (MODULITH_QUEUE_PREFIX and MODULITH_EVENT_BUS, both `t<8 hex>`);
  the test's queues, rules, bus, topics and subscriptions are deleted afterwards, because the
  emulator slows down as it fills.
- `fault_proxy`: a FaultProxy in front of the emulator; requesting it routes the test's AWS
  traffic (this process and `aws.env`) through the proxy.
- `private_emulator`: an emulator of the test's own, for tests that stop or restart it.
"""

import functools
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3.session
import pytest
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from tests.aws.emulator import (
    REGION,
    SHADOWING_VARIABLES,
    AwsContext,
    Emulator,
    aws_environment,
)
from tests.aws.fault_proxy import FaultProxy

CLEANUP_CONFIG = Config(connect_timeout=2, read_timeout=10, retries={"total_max_attempts": 2})


@pytest.fixture(scope="session")
def aws_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    emulator = Emulator(log_dir=tmp_path_factory.mktemp("moto"))
    emulator.start()
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture
def aws(
    aws_emulator: Emulator, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> Iterator[AwsContext]:
    if not aws_emulator.running:
        aws_emulator.start()
    name = f"t{uuid.uuid4().hex[:8]}"
    for variable in SHADOWING_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    env = aws_environment(aws_emulator.endpoint)
    for variable, value in env.items():
        monkeypatch.setenv(variable, value)
    settings.MODULITH_QUEUE_PREFIX = name
    settings.MODULITH_EVENT_BUS = name
    env |= {"MODULITH_QUEUE_PREFIX": name, "MODULITH_EVENT_BUS": name}
    yield AwsContext(emulator=aws_emulator, prefix=name, bus=name, env=env)
    _delete_resources(aws_emulator, name)


@pytest.fixture
def fault_proxy(aws: AwsContext, monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultProxy]:
    with FaultProxy(aws.emulator.endpoint) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.endpoint)
        aws.env["AWS_ENDPOINT_URL"] = proxy.endpoint
        yield proxy
        aws.env["AWS_ENDPOINT_URL"] = aws.emulator.endpoint


@pytest.fixture
def private_emulator(tmp_path: Path) -> Iterator[Emulator]:
    emulator = Emulator(log_dir=tmp_path / "moto")
    emulator.start()
    try:
        yield emulator
    finally:
        emulator.stop()


@functools.cache
def _cleanup_clients(endpoint: str) -> tuple[Any, Any, Any, Any]:
    """Clients straight to the emulator, whatever a test did to its environment (made once:
    creating a client takes ~0.1 s)."""
    session = boto3.session.Session(
        aws_access_key_id="test", aws_secret_access_key="test", region_name=REGION
    )
    sqs = session.client("sqs", endpoint_url=endpoint, config=CLEANUP_CONFIG)
    events = session.client("events", endpoint_url=endpoint, config=CLEANUP_CONFIG)
    sns = session.client("sns", endpoint_url=endpoint, config=CLEANUP_CONFIG)
    s3 = session.client("s3", endpoint_url=endpoint, config=CLEANUP_CONFIG)
    return sqs, events, sns, s3


def _delete_resources(emulator: Emulator, prefix: str) -> None:
    """Delete the test's queues, its bus with its rules, targets it left on the default bus (the
    emulator fails every PutEvents whose rule targets a deleted queue), and its topics with
    their subscriptions, and its claim-check bucket with what it holds."""

    def ours(arn: str) -> bool:
        return arn.rsplit(":", 1)[-1].startswith(prefix)

    try:
        sqs, events, sns, s3 = _cleanup_clients(emulator.endpoint)
        for bus in ("default", prefix):
            try:
                rules = events.list_rules(EventBusName=bus)["Rules"]
            except events.exceptions.ResourceNotFoundException:
                continue
            for rule in rules[:100]:
                targets = events.list_targets_by_rule(Rule=rule["Name"], EventBusName=bus)
                ids = [t["Id"] for t in targets["Targets"] if bus == prefix or ours(t["Arn"])]
                if ids:
                    events.remove_targets(Rule=rule["Name"], EventBusName=bus, Ids=ids)
                if bus == prefix:
                    events.delete_rule(Name=rule["Name"], EventBusName=bus)
            if bus == prefix:
                events.delete_event_bus(Name=prefix)
        for url in sqs.list_queues(QueueNamePrefix=prefix).get("QueueUrls", [])[:1000]:
            sqs.delete_queue(QueueUrl=url)
        for topic in sns.list_topics()["Topics"]:
            if ours(topic["TopicArn"]):
                subscriptions = sns.list_subscriptions_by_topic(TopicArn=topic["TopicArn"])
                for subscription in subscriptions["Subscriptions"]:
                    sns.unsubscribe(SubscriptionArn=subscription["SubscriptionArn"])
                sns.delete_topic(TopicArn=topic["TopicArn"])
        for bucket in s3.list_buckets()["Buckets"]:
            if bucket["Name"].startswith(prefix):
                listed = s3.list_objects_v2(Bucket=bucket["Name"]).get("Contents", [])[:1000]
                for item in listed:
                    s3.delete_object(Bucket=bucket["Name"], Key=item["Key"])
                s3.delete_bucket(Bucket=bucket["Name"])
    except (BotoCoreError, ClientError) as error:
        warnings.warn(f"could not clean up the emulator after the test: {error}", stacklevel=1)
