"""Delivery guarantees of the event bus: at least once, with no second effect; retried with
backoff, then dead-lettered, then replayed; nothing committed is lost if the process dies."""

from decimal import Decimal
from io import StringIO
from typing import Any
from uuid import UUID, uuid4

import pytest
from django.core.management import call_command
from django.db import transaction
from django.test import Client

from contracts.payments import PaymentCaptured
from modules.inventory.models import Product, Reservation
from modules.orders.models import Order, OrderStatus
from modulith.bus import Envelope, EventTooLarge, publish
from modulith.database.store.models import Delivery, DeliveryStatus, InboxRecord, OutboxEvent
from modulith.runtime import runtime
from modulith.testing import expire_claims
from tests.conftest import sweep
from tests.outbox_rows import stored_events
from tests.processes import run_python
from tests.shop import order, place, product, published, stock

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def capture_payment_for(order_id: UUID) -> None:
    """Payments says an order was paid (as if its events overtook the order's creation)."""
    with transaction.atomic(using="payments"):
        publish(
            PaymentCaptured(
                order_id=order_id, payment_id=uuid4(), amount=Decimal("10.00"), currency="EUR"
            )
        )


def delivery_to(route: str, event_name: str, alias: str) -> Delivery:
    return Delivery.objects.using(alias).get(route=route, event__event_name=event_name)


def pending_order(order_id: UUID) -> Order:
    return Order.objects.create(
        id=order_id,
        customer_id="c",
        total=Decimal("10.00"),
        currency="EUR",
        payment_token="tok_visa",
    )


def test_a_duplicate_delivery_has_no_second_effect(client: Client) -> None:
    stock(client, "KB-1", 5)
    placed = place(client, ("KB-1", 2)).json()
    order_placed = Envelope.from_wire(
        OutboxEvent.objects.using("orders").get(event_name="OrderPlaced").wire
    )
    topology = runtime().topology

    handled_again = runtime().dispatcher.handle(order_placed, topology.module("inventory"))
    outcome = runtime().transport.send("inventory", [order_placed])

    assert handled_again is False
    assert outcome[0].ok
    assert product(client, "KB-1")["onHand"] == 3
    assert Reservation.objects.filter(order_id=placed["orderId"]).count() == 1
    assert (
        InboxRecord.objects.using("inventory").filter(event_id=order_placed.event_id).count() == 1
    )
    assert len(published("inventory", "StockReserved")) == 1


def test_a_handler_failing_twice_then_succeeding_has_exactly_one_effect() -> None:
    order_id = uuid4()
    capture_payment_for(order_id)  # first attempt: orders has no such order yet
    sweep()  # second attempt fails the same way
    delivery = delivery_to("orders", "PaymentCaptured", "payments")
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.PENDING, 2)
    assert "LookupError" in delivery.last_error

    pending_order(order_id)
    sweep()
    sweep()

    delivery.refresh_from_db(using="payments")
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.DELIVERED, 3)
    assert Order.objects.get(id=order_id).status == OrderStatus.CONFIRMED
    assert published("orders", "OrderConfirmed") == [{"orderId": str(order_id)}]


def test_a_failed_delivery_waits_with_exponential_backoff(settings: Any) -> None:
    settings.MODULITH_RETRY_BASE_SECONDS = 30.0
    capture_payment_for(uuid4())

    report = sweep()

    delivery = delivery_to("orders", "PaymentCaptured", "payments")
    wait = (delivery.next_attempt_at - delivery.updated_at).total_seconds()
    assert 15 <= wait <= 30  # half fixed, half jitter, of base * 2**0
    assert report.handled == 0  # not due yet: the sweep leaves it alone


def test_a_handler_that_keeps_failing_is_dead_lettered_and_replayed_to_success(
    capsys: pytest.CaptureFixture[str],
) -> None:
    order_id = uuid4()
    capture_payment_for(order_id)
    for _ in range(10):
        sweep()

    delivery = delivery_to("orders", "PaymentCaptured", "payments")
    assert delivery.status == DeliveryStatus.DEAD
    assert delivery.attempts == 5  # MODULITH_MAX_ATTEMPTS
    call_command("deadletters", "list")
    listing = capsys.readouterr().out
    assert f"payments#{delivery.pk} PaymentCaptured" in listing
    assert "5 attempt(s)" in listing
    assert "LookupError" in listing

    pending_order(order_id)
    call_command("deadletters", "replay", "--all")

    delivery.refresh_from_db(using="payments")
    assert delivery.status == DeliveryStatus.DELIVERED
    assert Order.objects.get(id=order_id).status == OrderStatus.CONFIRMED
    call_command("deadletters", "list")
    assert "no dead letters" in capsys.readouterr().out


def test_an_event_that_can_never_be_handled_is_dead_lettered_at_once() -> None:
    # Data the contract refuses, as an older release could have stored it.
    stored_events("payments", "PaymentCaptured", "orders", {"amount": "1", "currency": "EUR"})

    sweep()

    delivery = delivery_to("orders", "PaymentCaptured", "payments")
    assert delivery.status == DeliveryStatus.DEAD
    assert delivery.attempts == 1
    assert "PaymentCaptured data is invalid: orderId: Field required" in delivery.last_error


def test_an_event_of_a_newer_major_version_is_refused_with_that_reason() -> None:
    envelope = Envelope(
        event_id=uuid4(),
        event_name="PaymentCaptured",
        source="payments.service",
        occurred_at=Envelope.from_json(
            '{"id": "6f1c9b1e-8f0e-4a8e-9d0e-6f1d2c3b4a59", "source": "x", '
            '"detail-type": "PaymentCaptured", "time": "2026-01-01T00:00:00Z", "detail": {}}',
            max_bytes=1000,
        ).occurred_at,
        schema_version="3.0",
        data={"orderId": str(uuid4()), "paymentId": str(uuid4()), "amount": "1", "currency": "EUR"},
    )

    [outcome] = runtime().transport.send("orders", [envelope])

    assert outcome.permanent
    assert "schema version 3.0 is newer than the version 2.0 orders knows" in outcome.error


def test_an_event_committed_while_the_process_died_is_delivered_once_its_claim_lapses(
    client: Client,
) -> None:
    stock(client, "KB-1", 5)
    crash = run_python(
        "import os, django\n"
        "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'config.settings')\n"
        "django.setup()\n"
        "from django.db import transaction\n"
        "from modules.orders import services\n"
        "with transaction.atomic(using='orders'):\n"
        "    transaction.on_commit(lambda: os._exit(0), using='orders')  # dies after commit\n"
        "    placed = services.order_place(customer_id='c', payment_token='tok_visa',\n"
        "        lines=[services.RequestedLine(sku='KB-1', quantity=1)])\n"
        "    print(placed.order.id, flush=True)\n",
        MODULITH_ASYNC_HANDLERS="inline",  # it claimed the delivery as it published it
    )
    assert crash.returncode == 0, crash.stderr
    order_id = crash.stdout.strip()
    assert order(client, order_id)["status"] == "PENDING"
    assert delivery_to("inventory", "OrderPlaced", "orders").status == DeliveryStatus.PENDING
    call_command("relay", "--once", stdout=StringIO())
    assert order(client, order_id)["status"] == "PENDING"  # the dead process's claim holds
    assert expire_claims(alias="orders") == 1

    call_command("relay", "--once", stdout=StringIO())

    assert order(client, order_id)["status"] == "CONFIRMED"
    assert product(client, "KB-1")["onHand"] == 4


def test_an_event_is_stored_only_if_its_transaction_commits() -> None:
    def pay_then_fail() -> None:
        with transaction.atomic(using="payments"):
            capture_payment_for(uuid4())
            raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError, match="rolled back"):
        pay_then_fail()

    assert not OutboxEvent.objects.using("payments").exists()
    assert not Delivery.objects.using("payments").exists()


def paid_then_rolled_back(order_id: UUID) -> None:
    with transaction.atomic(using="payments"):
        capture_payment_for(order_id)
        raise RuntimeError("rolled back")


def test_an_event_of_a_rolled_back_transaction_is_not_delivered_with_the_next_ones() -> None:
    rolled_back, committed = uuid4(), uuid4()
    pending_order(rolled_back)
    pending_order(committed)
    with pytest.raises(RuntimeError, match="rolled back"):
        paid_then_rolled_back(rolled_back)

    capture_payment_for(committed)  # the same connection's next transaction

    assert Order.objects.get(id=rolled_back).status == OrderStatus.PENDING
    assert Order.objects.get(id=committed).status == OrderStatus.CONFIRMED


def test_an_event_of_a_rolled_back_savepoint_is_not_delivered_with_the_rest() -> None:
    kept, dropped = uuid4(), uuid4()
    pending_order(kept)
    pending_order(dropped)
    with transaction.atomic(using="payments"):
        capture_payment_for(kept)
        with pytest.raises(RuntimeError, match="rolled back"):
            paid_then_rolled_back(dropped)  # a savepoint of the outer transaction

    assert Order.objects.get(id=kept).status == OrderStatus.CONFIRMED
    assert Order.objects.get(id=dropped).status == OrderStatus.PENDING
    assert published("orders", "OrderConfirmed") == [{"orderId": str(kept)}]


def test_publishing_outside_the_publishers_transaction_is_refused() -> None:
    event = PaymentCaptured(order_id=uuid4(), payment_id=uuid4(), amount=Decimal(1), currency="EUR")

    with pytest.raises(RuntimeError, match=r"inside transaction.atomic\(using='payments'\)"):
        publish(event)
    with pytest.raises(RuntimeError), transaction.atomic(using="orders"):
        publish(event)  # a transaction, but of another module's database


def test_an_event_over_the_size_limit_is_refused_inside_the_transaction(settings: Any) -> None:
    settings.MODULITH_MAX_EVENT_BYTES = 300

    with pytest.raises(EventTooLarge, match="MODULITH_MAX_EVENT_BYTES"):
        capture_payment_for(uuid4())

    assert not OutboxEvent.objects.using("payments").exists()


def test_the_request_trace_follows_the_order_through_every_module(client: Client) -> None:
    stock(client, "KB-1", 5)
    trace = "4bf92f3577b34da6a3ce929d0e0e4736"

    response = place(client, ("KB-1", 1), traceparent=f"00-{trace}-00f067aa0ba902b7-01")

    assert response.headers["X-Trace-Id"] == trace
    traced = {
        alias: {e.trace_id for e in OutboxEvent.objects.using(alias)}
        for alias in ("orders", "inventory", "payments")
    }
    assert traced == {"orders": {trace}, "inventory": {trace}, "payments": {trace}}
    assert Product.objects.get(sku="KB-1").on_hand == 4


def test_a_delivery_claimed_by_a_relay_that_died_is_delivered_once_the_claim_lapses() -> None:
    order_id = uuid4()
    capture_payment_for(order_id)  # fails: no such order yet; due again at once
    pending_order(order_id)
    claimed = runtime().relay.claims.take("payments")  # ...and the relay dies holding it
    assert [d.route for d in claimed] == ["orders"]

    assert sweep().handled == 0  # another relay leaves a held claim alone
    assert expire_claims(alias="payments") == 1
    report = sweep()

    assert report.delivered == 1
    assert Order.objects.get(id=order_id).status == OrderStatus.CONFIRMED
