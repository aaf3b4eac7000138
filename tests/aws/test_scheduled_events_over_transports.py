"""Scheduled events over SQS, SNS and EventBridge, against the emulator: the outbox holds them
until due (a delay of days, beyond the 15 minutes SQS's DelaySeconds allows), the relay then
sends them like any other event, and a consumer handles them from the queue; one cancelled
before its time never reaches a queue."""

from datetime import timedelta
from uuid import uuid4

import pytest

from modules.orders.models import OrderStatus
from modulith.aws.processor import ConsumerReport
from modulith.database.store.models import DeliveryStatus
from modulith.testing import make_due
from tests.aws.emulator import AwsContext
from tests.aws.test_consumer import consumer, receive
from tests.aws.test_relay_to_queues import event_ids_on, use
from tests.aws.transports import RELAYED, Relayed
from tests.conftest import sweep
from tests.modulith.bus.test_scheduled_events import cancel, deadline, key, order_status, statuses
from tests.modulith.test_delivery import pending_order

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

DAYS = timedelta(days=2)


@pytest.fixture(params=list(RELAYED))
def relayed(request: pytest.FixtureRequest, aws: AwsContext, settings: object) -> Relayed:
    use(settings, request.param)
    return RELAYED[request.param]


def test_a_deadline_days_ahead_reaches_the_queues_once_due_and_a_cancelled_one_never(
    aws: AwsContext, relayed: Relayed
) -> None:
    unpaid, paid = uuid4(), uuid4()
    for order_id in (unpaid, paid):
        pending_order(order_id)
    due, cancelled = deadline(unpaid, DAYS), deadline(paid, DAYS)
    assert cancel(key=key(paid)) == 1

    assert sweep().handled == 0  # nothing due: nothing sent
    make_due(alias="payments")
    sweep()

    assert statuses(due) == {DeliveryStatus.DELIVERED}
    assert statuses(cancelled) == {DeliveryStatus.CANCELLED}
    assert receive(consumer("orders")) == ConsumerReport(handled=1)
    assert order_status(unpaid) == OrderStatus.CANCELLED
    assert order_status(paid) == OrderStatus.PENDING
    # The due deadline, and the OrderCancelled it caused (inventory releases on it too); the
    # cancelled deadline never.
    on_inventory = event_ids_on(aws, "inventory", 2)
    assert str(due) in on_inventory
    assert str(cancelled) not in on_inventory
