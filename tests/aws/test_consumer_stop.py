"""A consumer told to stop in the middle of a message finishes it (it does not abandon it; it
deletes it) and sends what its handler published before it exits; what it cannot send (its
route is down) stays in the outbox, where the next relay finds it, whatever transport that
relay uses. `manage.py consume` runs as a process of its own, on this test's databases and
emulator."""

import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from django.db import transaction

from modules.orders.models import Order, OrderStatus
from modulith.database.store.models import Delivery, DeliveryStatus
from modulith.testing import make_due, wait_until
from tests.aws.consumers import LOGGING_ITS_SQL
from tests.aws.emulator import AwsContext
from tests.aws.fault_proxy import FaultProxy
from tests.aws.test_consumer import (
    capture_payment_for,
    consume_process,
    depth,
    pending_order,
    use_queues,
)
from tests.conftest import sweep

pytestmark = [pytest.mark.django_db(transaction=True, databases="__all__"), pytest.mark.slow]

SEND_BATCH = "SendMessageBatch"


def confirmed_events() -> list[Delivery]:
    return list(Delivery.objects.using("orders").filter(event__event_name="OrderConfirmed"))


def stop_while_handling(
    aws: AwsContext, tmp_path: Path, meanwhile: Callable[[], None] = lambda: None
) -> tuple[int, str]:
    """A consumer of orders' queue confirms an order whose row this test holds locked, so its
    handler waits (and `meanwhile` runs); SIGTERM comes then, and the lock is let go after.
    Returns the consumer's exit code and output."""
    order_id = uuid4()
    pending_order(order_id)
    with consume_process(aws, tmp_path, wait=20, **LOGGING_ITS_SQL) as process:
        with transaction.atomic(using="orders"):
            Order.objects.select_for_update().get(id=order_id)
            event_id = capture_payment_for(order_id)
            wait_until(
                lambda: process.looked_up(event_id),
                awaiting="the consumer to begin handling PaymentCaptured (its handler then "
                "waits on the lock)",
                timeout=15,
                details=process.output,
            )
            meanwhile()
            assert process.process is not None
            process.process.send_signal(signal.SIGTERM)
            # Still running: it finishes the message in hand, which waits on the lock (that
            # it finished rather than dropped it, its output and the order say below).
            assert process.process.poll() is None
        code = process.process.wait(timeout=30)
        output = process.output()
    assert Order.objects.get(id=order_id).status == OrderStatus.CONFIRMED
    return code, output


def test_a_busy_consumer_finishes_its_message_and_sends_what_it_published_before_it_exits(
    aws: AwsContext, settings: Any, tmp_path: Path
) -> None:
    use_queues(settings)

    code, output = stop_while_handling(aws, tmp_path)

    assert code == 0, output
    assert "consumer stopped: handled 1, duplicates 0, retried 0, dead-lettered 0\n" in output
    [sent] = confirmed_events()
    assert (sent.route, sent.status) == ("inventory", DeliveryStatus.DELIVERED)
    assert depth("inventory") == 1  # OrderConfirmed, for inventory to take the units off
    assert depth("orders") == 0


def test_what_a_stopping_consumer_cannot_send_is_found_in_the_outbox_by_the_next_relay(
    aws: AwsContext, fault_proxy: FaultProxy, settings: Any, tmp_path: Path
) -> None:
    use_queues(settings)

    # From now on SQS refuses every send: the consumer's, of what its handler publishes.
    code, output = stop_while_handling(
        aws, tmp_path, lambda: fault_proxy.throttle(SEND_BATCH, times=100)
    )

    assert code == 0, output
    [left] = confirmed_events()
    assert (left.route, left.status, left.claimed_by) == ("inventory", DeliveryStatus.PENDING, "")
    assert depth("inventory") == 0
    # The next relay is the monolith's, back on the in-process transport: it hands the event to
    # inventory itself.
    fault_proxy.disarm()
    settings.MODULITH_TRANSPORT = "inprocess"
    make_due(alias="orders")  # its route's probe is due
    sweep()
    [sent] = confirmed_events()
    assert sent.status == DeliveryStatus.DELIVERED
