"""`manage.py consume --drain`: what a queue transport left in the module queues is handled
once, whatever MODULITH_TRANSPORT is now (inprocess after a merge back), and the command exits
0 when the queues have stayed empty, or 1 with one line when they do not empty in time. Each
runs as a process of its own, on this test's databases and emulator."""

from typing import Any
from uuid import uuid4

import pytest
from django.test import Client

from modules.orders.models import Order, OrderStatus
from modulith.aws.context import aws_context
from modulith.database.store.models import Delivery, DeliveryStatus, InboxRecord
from modulith.runtime import runtime
from tests.aws.emulator import AwsContext
from tests.aws.test_consumer import captured, depth, pending_order, send, use_queues, wire_body
from tests.processes import manage
from tests.shop import place, stock

pytestmark = [pytest.mark.django_db(transaction=True, databases="__all__"), pytest.mark.slow]


def drain(aws: AwsContext, *options: str, transport: str = "inprocess") -> Any:
    """The one-off drain, as a release runs it after the monolith went back to `transport`."""
    return manage(
        "consume",
        "--drain",
        *options,
        timeout=90,
        **aws.env,
        MODULITH_TRANSPORT=transport,
        DJANGO_DEBUG="1",
    )


def hide(module: str, seconds: int) -> None:
    """Receives the module's one message and keeps it hidden, as a consumer that stopped
    holding it would: it comes back when its visibility timeout ends."""
    current = runtime()
    received = aws_context(current).sqs.receive_message(
        QueueUrl=aws_context(current).queues.url(module),
        VisibilityTimeout=seconds,
        WaitTimeSeconds=2,
    )
    assert len(received["Messages"]) == 1


def test_a_drain_on_the_in_process_transport_ends_the_sagas_a_queue_transport_left(
    aws: AwsContext, settings: Any, client: Client
) -> None:
    use_queues(settings)  # the monolith on sqs, its consumers already gone
    stock(client, "DRAIN-1", 5)
    placed = [place(client, ("DRAIN-1", 1)).json()["orderId"] for _ in range(3)]
    assert depth("inventory") == 3
    assert set(Order.objects.values_list("status", flat=True)) == {OrderStatus.PENDING}

    drained = drain(aws, "--empty-for", "1")

    assert drained.returncode == 0, drained.stderr
    lines = drained.stdout.strip().splitlines()
    assert lines[0].startswith(f"draining {aws.prefix}-orders, {aws.prefix}-inventory, ")
    assert lines[-1].endswith("handled 3, duplicates 0, retried 0, dead-lettered 0")
    # The rest of each saga ran in process, and was delivered before the drain exited.
    assert {str(o.id): o.status for o in Order.objects.all()} == dict.fromkeys(
        placed, OrderStatus.CONFIRMED
    )
    for module in ("orders", "inventory", "payments"):
        assert depth(module) == 0
        pending = Delivery.objects.using(module).exclude(
            status__in=(DeliveryStatus.DELIVERED, DeliveryStatus.CANCELLED)  # paid: no deadline
        )
        assert not pending.exists(), module


def test_a_drain_waits_for_a_message_in_flight_to_come_back_and_handles_it(
    aws: AwsContext, settings: Any
) -> None:
    use_queues(settings)
    order = pending_order(uuid4())
    send(wire_body("PaymentCaptured", captured(order.id)))
    hide("orders", seconds=3)

    drained = drain(aws, "--empty-for", "1", "--module", "orders", transport="sqs")

    assert drained.returncode == 0, drained.stderr
    assert (
        drained.stdout.strip()
        .splitlines()[-1]
        .endswith("handled 1, duplicates 0, retried 0, dead-lettered 0")
    )
    assert Order.objects.get(id=order.id).status == OrderStatus.CONFIRMED
    assert InboxRecord.objects.using("orders").filter(event_name="PaymentCaptured").count() == 1
    assert depth("orders") == 0


def test_a_drain_that_cannot_empty_a_queue_in_time_exits_1_with_one_line(
    aws: AwsContext, settings: Any
) -> None:
    use_queues(settings)
    send(wire_body("PaymentCaptured", captured(pending_order(uuid4()).id)))
    hide("orders", seconds=60)

    drained = drain(aws, "--empty-for", "1", "--timeout", "2", "--module", "orders")

    assert drained.returncode == 1
    assert drained.stderr.strip().splitlines() == [
        f"CommandError: drain not empty after 2 s: {aws.prefix}-orders holds 0 "
        "waiting, 1 in flight, 0 delayed (handled 0, duplicates 0, retried 0, dead-lettered 0)"
    ]


def test_a_drain_refuses_once_and_max_messages(aws: AwsContext) -> None:
    refused = drain(aws, "--once")

    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines() == [
        "CommandError: --drain runs until the queues are empty: leave out --once and --max-messages"
    ]
