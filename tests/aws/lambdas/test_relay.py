"""The relay function, invoked as its EventBridge schedule invokes it: it drains the outbox
backlog to the subscribers' queues, and stops starting sweeps a claim's time before its
timeout."""

import time
from typing import Any
from uuid import uuid4

import pytest

from modulith.aws.lambdas import relay
from modulith.database.store.models import Delivery, DeliveryStatus
from tests.aws.emulator import AwsContext
from tests.aws.test_consumer import captured, depth, use_queues
from tests.lambda_events import ACCOUNT, REGION, context
from tests.outbox_rows import stored_events

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def scheduled_event() -> dict[str, Any]:
    """What an EventBridge schedule rule sends its target."""
    return {
        "version": "0",
        "id": str(uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/modulith-payments-relay"],
        "detail": {},
    }


def backlog(count: int) -> list[Any]:
    """Committed PaymentCaptured events for orders' queue, undelivered (a function cut off
    after its commit leaves them so)."""
    return stored_events("payments", "PaymentCaptured", "orders", captured(uuid4()), count=count)


def test_the_relay_function_drains_the_backlog_to_the_queues(
    aws: AwsContext, settings: Any
) -> None:
    use_queues(settings)
    event_ids = backlog(25)

    answer = relay.handler(scheduled_event(), context(60))

    assert answer == {
        "delivered": 25,
        "retried": 0,
        "dead": 0,
        "waiting": 0,
        "purged": 0,
        "moreDue": False,
    }
    deliveries = Delivery.objects.using("payments").filter(event_id__in=event_ids)
    assert {d.status for d in deliveries} == {DeliveryStatus.DELIVERED}
    assert depth("orders") == 25


def test_the_relay_function_stops_sweeping_a_claims_time_before_its_timeout(
    aws: AwsContext, settings: Any
) -> None:
    use_queues(settings)
    settings.MODULITH_CLAIM_SECONDS = 15.0
    backlog(501)  # one more than a sweep takes

    # Less than a claim's time left: the first sweep is the last.
    answer = relay.handler(scheduled_event(), context(10))

    assert (answer["delivered"], answer["moreDue"]) == (500, True)
    pending = Delivery.objects.using("payments").filter(status=DeliveryStatus.PENDING)
    assert pending.count() == 1  # for the next schedule
