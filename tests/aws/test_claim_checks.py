"""Large events travel by claim check, against the emulator's SQS, SNS, EventBridge and S3: an
event too large for its transport has its data put in the claim-check bucket by the relay and
a reference sent in its place, which the consumer resolves (checking size and digest) before
the handlers see the event. S3 out of reach delays events and dead-letters none (the relay
pauses the route, the consumer its queue, the Lambda function sends the record again); an
object gone for good, and a reference that is not ours to follow, are dead letters with their
reasons; a foreign producer's large event, sent as the docs show with the AWS CLI, is handled.

moto evaluates a bucket policy's Deny statements without their conditions, so the TLS-only
statement `provision` puts on the bucket would refuse the emulator's plain HTTP: the tests that
move events read the bucket's settings elsewhere and take that policy off (`provisioned`).
"""

import hashlib
import json
import threading
from collections.abc import Iterator
from io import StringIO
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from django.core.management import call_command
from django.db import transaction
from django.test import Client
from prometheus_client import REGISTRY

from contracts.inventory import ReservedLine, StockReserved
from modulith.aws.consumer import queue_consumer
from modulith.aws.context import AwsContext as Aws
from modulith.aws.context import aws_context
from modulith.aws.messages import DEAD_LETTER_REASON, HOLDS, message_envelope
from modulith.aws.processor import ConsumerReport, message_processor
from modulith.bus import publish
from modulith.database.store.models import Delivery, DeliveryStatus, InboxRecord, OutboxEvent
from modulith.runtime import runtime
from modulith.testing import make_due, wait_until
from tests.aws.cli import aws_cli, s3_copy
from tests.aws.emulator import AwsContext
from tests.aws.fault_proxy import FaultProxy
from tests.aws.lambdas.event_source import EventSource
from tests.aws.queues import receive_all
from tests.conftest import sweep
from tests.shop import product, published, stock

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

KIB = 1024
MIB = 1024 * KIB
SIZES = (200 * KIB, 900 * KIB, 5 * MIB)
# What each transport takes in one message: above it (less headroom), a claim check.
MESSAGE_LIMITS = {"sqs": MIB, "sns": 256 * KIB, "eventbridge": 256 * KIB}
# A partner's checkout, which inventory's manifest accepts OrderPlaced from.
PARTNER = "partner.checkout"


# Steps ---------------------------------------------------------------------------------------


def provisioned(settings: Any, transport: str) -> Aws:
    """This process relays through `transport`, with its resources provisioned; the bucket's
    TLS-only policy taken off for the emulator (see the module's docstring)."""
    settings.MODULITH_TRANSPORT = transport
    call_command("provision", stdout=StringIO())
    aws = aws_context(runtime())
    aws.s3.delete_bucket_policy(Bucket=aws.claim_check_bucket)
    return aws


def reserved(size: int) -> StockReserved:
    """A reservation of as many lines as make `size` bytes of data on the wire."""
    line = ReservedLine(sku="L" * 64, quantity=1)
    line_bytes = len(line.model_dump_json(by_alias=True)) + 1  # and its comma
    return StockReserved(order_id=uuid4(), items=[line] * (size // line_bytes))


def reserve(*sizes: int) -> list[UUID]:
    """StockReserved events (one subscriber: payments) of these sizes, committed and relayed."""
    with transaction.atomic(using="inventory"):
        event_ids = [publish(reserved(size)) for size in sizes]
    sweep()
    return event_ids


def stored_data(event_id: UUID) -> bytes:
    """The data of the event as the outbox holds it, as the claim check writes it."""
    wire = OutboxEvent.objects.using("inventory").get(id=event_id).wire
    return json.dumps(wire["detail"]["data"], separators=(",", ":"), sort_keys=True).encode()


def payments_messages(aws: Aws, count: int) -> list[dict[str, Any]]:
    """The messages on payments' queue, read and put straight back for the consumer."""
    url = aws.queues.url("payments")
    messages = receive_all(aws.sqs, url, count, timeout=15)
    for message in messages:
        aws.sqs.change_message_visibility(
            QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
        )
    return messages


def consume(module: str, messages: int) -> ConsumerReport:
    """Polls the module's queue (a bounded number of times) until `messages` are settled."""
    polling = queue_consumer(runtime(), runtime().topology.module(module), wait_seconds=1)
    total = ConsumerReport()
    for _ in range(10):
        total.add(polling.poll())
        if total.settled >= messages:
            break
    return total


def handled_by_payments(event_id: UUID) -> int:
    return InboxRecord.objects.using("payments").filter(event_id=event_id).count()


def dead_letters(aws: Aws, count: int) -> list[dict[str, Any]]:
    return receive_all(aws.sqs, aws.queues.dead_letter_url("payments"), count, timeout=10)


def dead_lettered(module: str, reason: str) -> float:
    value = REGISTRY.get_sample_value(
        "modulith_messages_dead_lettered_total", {"module": module, "reason": reason}
    )
    return value or 0.0


def partners_order(event_id: UUID, data_reference: dict[str, Any]) -> dict[str, Any]:
    """A partner's OrderPlaced in the wire format, its data by claim check."""
    return {
        "version": "0",
        "id": str(event_id),
        "source": PARTNER,
        "detail-type": "OrderPlaced",
        "time": "2026-01-01T00:00:00Z",
        "detail": {
            "metadata": {
                "eventId": str(event_id),
                "schemaVersion": "1.0",
                "occurredAt": "2026-01-01T00:00:00Z",
            },
            "dataRef": data_reference,
        },
    }


@pytest.fixture
def s3_proxy(aws: AwsContext, monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultProxy]:
    """S3, and only S3, reached through a proxy the test can take down."""
    with FaultProxy(aws.emulator.endpoint) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", proxy.endpoint)
        yield proxy


# Handled once, whole -------------------------------------------------------------------------


@pytest.mark.parametrize("transport", list(MESSAGE_LIMITS))
def test_events_of_200_kib_900_kib_and_5_mib_are_handled_once_with_their_data_byte_for_byte(
    aws: AwsContext, settings: Any, transport: str
) -> None:
    claims = provisioned(settings, transport)
    event_ids = reserve(*SIZES)
    assert {d.status for d in Delivery.objects.using("inventory")} == {DeliveryStatus.DELIVERED}

    messages = payments_messages(claims, len(SIZES))

    assert len(messages) == len(SIZES)
    by_id = {}
    for message in messages:
        envelope = message_envelope(message, max_bytes=runtime().max_event_bytes)
        by_id[envelope.event_id] = (message, envelope)
    for event_id, size in zip(event_ids, SIZES, strict=True):
        message, envelope = by_id[event_id]
        data = stored_data(event_id)
        # By claim check exactly when the event is too large for the transport's messages.
        too_large = size > MESSAGE_LIMITS[transport] - 8 * KIB
        assert (envelope.data_reference is not None) == too_large, (transport, size)
        if envelope.data_reference is None:
            assert len(message["Body"]) > size
            continue
        reference = envelope.data_reference
        assert len(message["Body"]) < 4 * KIB  # the reference, not the data
        assert (reference.bucket, reference.key) == (
            claims.claim_check_bucket,
            f"inventory.service/{event_id}.json",
        )
        stored = claims.s3.get_object(Bucket=reference.bucket, Key=reference.key)["Body"].read()
        assert stored == data
        assert (reference.size, reference.sha256) == (len(data), hashlib.sha256(data).hexdigest())
        resolved = claims.claims.resolve(envelope, max_bytes=runtime().max_event_bytes)
        assert json.dumps(resolved.data, separators=(",", ":"), sort_keys=True).encode() == data

    report = consume("payments", len(SIZES))

    assert (report.handled, report.dead, report.retried) == (len(SIZES), 0, 0), report
    assert [handled_by_payments(event_id) for event_id in event_ids] == [1, 1, 1]


# S3 out of reach -----------------------------------------------------------------------------


def test_a_bucket_out_of_reach_pauses_the_route_and_the_event_leaves_once_it_is_back(
    aws: AwsContext, s3_proxy: FaultProxy, settings: Any
) -> None:
    claims = provisioned(settings, "sqs")
    settings.MODULITH_ROUTE_PROBE_MAX_SECONDS = 0.5
    s3_proxy.refuse_connections()

    [large, small] = reserve(5 * MIB, 1 * KIB)
    for _ in range(3):  # probes of the route while S3 stays out of reach
        make_due(alias="inventory")
        sweep()

    # The route is paused as for a broker outage: what waits behind the large event waits too.
    for waiting in Delivery.objects.using("inventory").filter(event_id__in=[large, small]):
        assert (waiting.status, waiting.attempts) == (DeliveryStatus.PENDING, 0)
        assert "claim-check bucket unavailable" in waiting.last_error, waiting.last_error
    s3_proxy.accept_connections()
    make_due(alias="inventory")
    sweep()
    for delivered in Delivery.objects.using("inventory").filter(event_id__in=[large, small]):
        assert (delivered.status, delivered.attempts) == (DeliveryStatus.DELIVERED, 1)
    assert len(payments_messages(claims, 2)) == 2
    assert (consume("payments", 2).handled, handled_by_payments(large)) == (2, 1)


def test_a_bucket_out_of_reach_holds_the_message_and_never_dead_letters_it(
    aws: AwsContext, s3_proxy: FaultProxy, settings: Any
) -> None:
    claims = provisioned(settings, "sqs")
    settings.MODULITH_ROUTE_PROBE_MAX_SECONDS = 0.5
    [event_id] = reserve(5 * MIB)
    s3_proxy.refuse_connections()
    current = runtime()
    payments = current.topology.module("payments")
    [message] = payments_messages(claims, 1)

    outcome = message_processor(current, payments).process(message)

    assert outcome.unavailable, outcome
    assert "claim-check bucket unavailable" in outcome.error
    stop = threading.Event()
    polling = queue_consumer(current, payments, wait_seconds=1)
    consuming = threading.Thread(target=polling.run, args=(stop, lambda report: None))
    consuming.start()
    try:
        wait_until(
            lambda: REGISTRY.get_sample_value("modulith_consumer_paused", {"module": "payments"}),
            lambda paused: paused == 1,
            awaiting="the consumer to pause payments' queue while S3 is out of reach",
            timeout=15,
        )
        assert handled_by_payments(event_id) == 0
        s3_proxy.accept_connections()
        wait_until(
            lambda: handled_by_payments(event_id),
            lambda handled: handled == 1,
            awaiting="the held message to be handled once S3 answers",
            timeout=20,
        )
    finally:
        stop.set()
        consuming.join(timeout=30)
    assert dead_letters(claims, 0) == []


def test_on_lambda_a_bucket_out_of_reach_sends_the_record_again_and_never_dead_letters_it(
    aws: AwsContext, s3_proxy: FaultProxy, settings: Any
) -> None:
    claims = provisioned(settings, "sqs")
    [event_id] = reserve(5 * MIB)
    s3_proxy.refuse_connections()
    source = EventSource("payments")
    [original] = source.receive()

    answer = source.invoke([original])

    assert answer == {"batchItemFailures": []}  # the original is deleted: a copy waits
    [copy] = source.receive(timeout=20)  # delayed by the pause's first backoff
    assert copy["Body"] == original["Body"]
    assert copy["MessageAttributes"][HOLDS]["StringValue"] == "1"
    assert handled_by_payments(event_id) == 0
    s3_proxy.accept_connections()
    assert source.invoke([copy]) == {"batchItemFailures": []}
    assert handled_by_payments(event_id) == 1
    assert dead_letters(claims, 0) == []


# Gone for good, or not ours to follow --------------------------------------------------------


def test_a_claim_check_deleted_from_the_bucket_is_dead_lettered_with_its_reason(
    aws: AwsContext, settings: Any
) -> None:
    claims = provisioned(settings, "sqs")
    [event_id] = reserve(5 * MIB)
    claims.s3.delete_object(
        Bucket=claims.claim_check_bucket, Key=f"inventory.service/{event_id}.json"
    )
    before = dead_lettered("payments", "claim_check_missing")

    report = consume("payments", 1)

    assert (report.handled, report.dead) == (0, 1), report
    [dead] = dead_letters(claims, 1)
    reason = dead["MessageAttributes"][DEAD_LETTER_REASON]["StringValue"]
    assert "is not in" in reason, reason
    assert str(event_id) in reason, reason
    assert dead_lettered("payments", "claim_check_missing") == before + 1
    assert handled_by_payments(event_id) == 0


def test_a_foreign_producers_reference_that_is_not_ours_to_follow_is_refused_with_its_reason(
    aws: AwsContext, settings: Any
) -> None:
    """A partner's OrderPlaced events (inventory accepts them) with references: to another
    bucket, to another event's object, larger than an event may be, of a malformed digest, and
    of an object that is not what the reference says."""
    claims = provisioned(settings, "sqs")
    settings.MODULITH_MAX_EVENT_BYTES = 64 * KIB
    bucket = claims.claim_check_bucket
    data = b'{"orderId":"' + str(uuid4()).encode() + b'"}'
    digest = hashlib.sha256(data).hexdigest()

    def reference(event_id: UUID, **changes: Any) -> dict[str, Any]:
        key = f"{PARTNER}/{event_id}.json"
        claims.s3.put_object(Bucket=bucket, Key=key, Body=data)
        return {"bucket": bucket, "key": key, "size": len(data), "sha256": digest} | changes

    cases: list[tuple[str, dict[str, Any]]] = [
        ("claim_check_invalid", {"bucket": "someone-elses-bucket"}),
        ("claim_check_invalid", {"key": f"{PARTNER}/{uuid4()}.json"}),
        ("oversized", {"size": 64 * KIB + 1}),
        ("claim_check_invalid", {"sha256": "0" * 63}),
        ("claim_check_mismatch", {"sha256": "0" * 64}),
    ]
    url = claims.queues.url("inventory")
    reasons = [reason for reason, _ in cases]
    before = {reason: dead_lettered("inventory", reason) for reason in reasons}
    for _, changes in cases:
        event_id = uuid4()
        body = partners_order(event_id, reference(event_id, **changes))
        claims.sqs.send_message(QueueUrl=url, MessageBody=json.dumps(body))

    report = consume("inventory", len(cases))

    assert (report.dead, report.handled) == (len(cases), 0), report
    refused = receive_all(claims.sqs, claims.queues.dead_letter_url("inventory"), len(cases))
    assert len(refused) == len(cases)
    for reason in set(reasons):
        assert dead_lettered("inventory", reason) == before[reason] + reasons.count(reason)
    texts = sorted(m["MessageAttributes"][DEAD_LETTER_REASON]["StringValue"] for m in refused)
    assert any("is not the claim-check bucket" in text for text in texts), texts
    assert any("must be" in text and "<source>/<event id>.json" in text for text in texts)
    assert any("MODULITH_MAX_EVENT_BYTES" in text for text in texts), texts
    assert any("sha256 must be 64 lowercase hex digits" in text for text in texts), texts
    assert any("does not hold what its reference says" in text for text in texts), texts


def test_a_foreign_producers_large_event_sent_as_the_docs_show_is_handled(
    aws: AwsContext, settings: Any, client: Client, tmp_path: Path
) -> None:
    """docs/architecture.md's example, with the real AWS CLI: `aws s3 cp` of the data, then
    `aws sqs send-message` of the event with its reference."""
    claims = provisioned(settings, "sqs")
    stock(client, "MS-2", 3, price="29.50")
    order_id, event_id = str(uuid4()), uuid4()
    data = tmp_path / "order.json"
    items = [{"sku": "MS-2", "quantity": 2, "unitPrice": "29.50"}]
    data.write_text(
        json.dumps(
            {
                "orderId": order_id,
                "customerId": "partner-7",
                "currency": "EUR",
                "total": "59.00",
                "items": items,
                "note": "x" * (300 * KIB),  # larger than SNS or EventBridge would carry
            }
        )
    )
    key = f"{PARTNER}/{event_id}.json"
    bucket = claims.claim_check_bucket
    s3_copy(aws, data, f"s3://{bucket}/{key}")
    body = partners_order(
        event_id,
        {
            "bucket": bucket,
            "key": key,
            "size": data.stat().st_size,
            "sha256": hashlib.sha256(data.read_bytes()).hexdigest(),
        },
    )
    url = claims.queues.url("inventory")
    aws_cli(aws, "sqs", "send-message", "--queue-url", url, "--message-body", json.dumps(body))

    report = consume("inventory", 1)

    assert (report.handled, report.dead) == (1, 0), report
    assert product(client, "MS-2")["reserved"] == 2
    assert [e["orderId"] for e in published("inventory", "StockReserved")] == [order_id]


# The bucket ----------------------------------------------------------------------------------


def test_the_bucket_is_encrypted_private_tls_only_and_expires_objects_after_the_redelivery_window(
    aws: AwsContext, settings: Any
) -> None:
    settings.MODULITH_TRANSPORT = "sqs"
    call_command("provision", stdout=StringIO())
    claims = aws_context(runtime())
    s3, bucket = claims.s3, claims.claim_check_bucket

    [rule] = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    encryption = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]
    blocked = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    [statement] = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"]

    assert bucket == f"{aws.prefix}-claim-checks-123456789012-us-east-1"
    # 4 days in a queue (SQS's default retention) + 14 in its dead-letter queue, and a day more.
    assert (rule["Status"], rule["Expiration"], rule["Filter"]) == (
        "Enabled",
        {"Days": 19},
        {"Prefix": ""},
    )
    assert encryption["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert blocked == dict.fromkeys(
        ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"), True
    )
    assert statement["Effect"] == "Deny"
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert statement["Resource"] == [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]
    again = StringIO()
    call_command("provision", stdout=again)
    assert again.getvalue().startswith("nothing to change"), again.getvalue()
