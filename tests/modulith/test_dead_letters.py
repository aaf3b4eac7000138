"""Dead letters through their one interface: the places the composition root chose, each
listing its letters with their reason and replaying all of them or those named."""

import json
from decimal import Decimal
from io import StringIO
from uuid import UUID, uuid4

import pytest
from django.core.management import call_command
from django.db import transaction

from contracts.payments import PaymentCaptured
from modules.orders.models import Order, OrderStatus
from modulith.bus import publish
from modulith.outbox.dead_deliveries import DeadDelivery, OutboxDeadLetters
from modulith.outbox.dead_letters import Replayed
from modulith.runtime import runtime
from tests.conftest import sweep
from tests.modulith.test_delivery import pending_order

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def dead_payments_captured(*order_ids: UUID) -> dict[UUID, str]:
    """PaymentCaptured for orders that orders does not hold: every attempt fails until the
    deliveries are dead. Their event ids, by order."""
    events = {}
    for order_id in order_ids:
        with transaction.atomic(using="payments"):
            captured = PaymentCaptured(
                order_id=order_id, payment_id=uuid4(), amount=Decimal("10.00"), currency="EUR"
            )
            events[order_id] = str(publish(captured))
    for _ in range(10):
        sweep()
    return events


def test_in_process_the_outbox_is_the_one_place_that_keeps_dead_letters() -> None:
    assert [type(place) for place in runtime().dead_letters] == [OutboxDeadLetters]


def test_the_outbox_lists_its_dead_deliveries_with_their_reason_oldest_first() -> None:
    first, second = uuid4(), uuid4()
    events = dead_payments_captured(first, second)
    [outbox] = runtime().dead_letters

    letters = outbox.letters(runtime().topology.module("payments"))

    assert [letter.event_id for letter in letters] == [events[first], events[second]]
    for letter in letters:
        assert isinstance(letter, DeadDelivery)
        assert (letter.module, letter.event_name, letter.route) == (
            "payments",
            "PaymentCaptured",
            "orders",
        )
        assert letter.attempts == 5
        assert "LookupError" in letter.last_error
        assert str(letter).startswith(f"payments#{letter.delivery_id} PaymentCaptured ")
    assert outbox.letters(runtime().topology.module("orders")) == []


def test_the_outbox_replays_one_dead_delivery_by_its_id_and_leaves_the_others() -> None:
    first, second = uuid4(), uuid4()
    events = dead_payments_captured(first, second)
    [outbox] = runtime().dead_letters
    payments = runtime().topology.module("payments")
    [chosen] = [letter for letter in outbox.letters(payments) if letter.event_id == events[first]]
    assert isinstance(chosen, DeadDelivery)
    pending_order(first)

    replayed = outbox.replay(payments, {str(chosen.delivery_id), "not-a-delivery-id"})

    assert replayed == Replayed(
        count=1, summary="replayed 1 deliveries: delivered 1, retried 0, dead 0"
    )
    assert Order.objects.get(id=first).status == OrderStatus.CONFIRMED
    assert [letter.event_id for letter in outbox.letters(payments)] == [events[second]]


def test_a_replay_that_fails_again_says_it_is_incomplete_and_why() -> None:
    order_id = uuid4()
    dead_payments_captured(order_id)  # the order still does not exist
    [outbox] = runtime().dead_letters

    replayed = outbox.replay(runtime().topology.module("payments"))

    assert replayed.count == 1
    assert replayed.summary == "replayed 1 deliveries: delivered 0, retried 1, dead 0"
    assert not replayed.complete
    assert replayed.last_error.startswith("LookupError")


def test_the_json_listing_says_where_each_dead_letter_is_kept() -> None:
    order_id = uuid4()
    events = dead_payments_captured(order_id)
    out = StringIO()

    call_command("deadletters", "list", "--format", "json", stdout=out)

    [letter] = json.loads(out.getvalue())
    assert letter["kind"] == "delivery"
    assert (letter["module"], letter["event_id"], letter["route"]) == (
        "payments",
        events[order_id],
        "orders",
    )
    assert letter["attempts"] == 5
    assert isinstance(letter["delivery_id"], int)
    assert "LookupError" in letter["last_error"]
