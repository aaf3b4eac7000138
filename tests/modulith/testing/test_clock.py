"""modulith.testing's clock: a test says a claim has lapsed (`expire_claims`) or a delivery is
due (`make_due`) instead of waiting for the relay's time to come, and the relay then acts as
it would once that time had come."""

from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest
from django.db import transaction

from contracts.payments import PaymentCaptured
from modulith.bus import publish
from modulith.database.store.models import Delivery, DeliveryStatus
from modulith.runtime import runtime
from modulith.testing import expire_claims, make_due
from tests.conftest import sweep
from tests.executors import SlowToStart
from tests.modulith.test_delivery import pending_order

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def payment_for_an_unknown_order() -> Delivery:
    """PaymentCaptured for an order orders does not hold: its delivery fails, and is pending."""
    with transaction.atomic(using="payments"):
        publish(
            PaymentCaptured(
                order_id=uuid4(), payment_id=uuid4(), amount=Decimal("10.00"), currency="EUR"
            )
        )
    return Delivery.objects.using("payments").get(event__event_name="PaymentCaptured")


def test_a_claim_held_by_a_relay_that_stopped_lapses_and_another_relay_takes_it() -> None:
    delivery = payment_for_an_unknown_order()
    [claimed] = runtime().relay.claims.take("payments")
    assert sweep().handled == 0

    lapsed = expire_claims(alias="payments")

    assert lapsed == 1
    delivery.refresh_from_db(using="payments")
    assert delivery.claimed_by == claimed.claimed_by  # the holder stays recorded
    assert sweep().retried == 1


def test_without_an_alias_the_claims_of_every_running_module_lapse() -> None:
    payment_for_an_unknown_order()
    runtime().relay.claims.take("payments")

    assert expire_claims() == 1
    assert expire_claims() == 0  # nothing held any more


def test_the_claims_of_deliveries_lapse_in_the_instances_a_relay_holds_too(
    slow_to_start: SlowToStart,
) -> None:
    relay = runtime().relay
    payment_for_an_unknown_order()  # claimed as it is published, for this process to deliver
    [(_, held, _)] = slow_to_start.handed_over
    assert relay.claims.still_held(held)

    assert expire_claims(alias="payments", deliveries=held) == 1

    assert not relay.claims.still_held(held)
    assert relay.claims.held("payments", held) == []
    with pytest.raises(ValueError, match="needs the alias"):
        expire_claims(deliveries=held)


def test_a_delivery_waiting_out_its_backoff_is_due_at_once(settings: Any) -> None:
    settings.MODULITH_RETRY_BASE_SECONDS = 3600.0
    delivery = payment_for_an_unknown_order()  # failed once: due again in half an hour or more
    assert sweep().handled == 0
    pending_order(UUID(delivery.event.wire["detail"]["data"]["orderId"]))

    assert make_due() == 1

    assert sweep().delivered == 1
    delivery.refresh_from_db(using="payments")
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.DELIVERED, 2)
    assert make_due() == 0  # a delivered one is not due again


def test_a_route_that_is_down_is_probed_at_the_next_try() -> None:
    outages = runtime().relay.outages
    outages.failed("orders", "ConnectionRefusedError")
    assert outages.waiting_until("orders") is not None

    make_due()

    assert outages.waiting_until("orders") is None
    outages.failed("orders", "ConnectionRefusedError")  # the probe failed: down again, longer
    assert outages.waiting_until("orders") is not None
