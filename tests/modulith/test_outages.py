"""Unreachable is not failed: a subscriber whose database is down costs its events no attempt;
an outcome recorded after the claim lapsed is not counted; a handler's network call holds no
transaction on its module's database."""

import logging
import threading
import time
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest
from django.db import transaction
from django.test import Client
from django.utils import timezone
from prometheus_client import REGISTRY

from contracts.payments import PaymentCaptured
from modules.orders.models import Order, OrderStatus
from modules.payments.models import Payment
from modulith.bus import atomic, publish
from modulith.bus.inbox import HandlerRun, running
from modulith.database.store.models import Delivery, DeliveryStatus, OutboxEvent
from modulith.runtime import runtime
from modulith.testing import expire_claims, make_due
from modulith.transports.envelope import Envelope
from tests.conftest import sweep
from tests.executors import SlowToStart
from tests.faults import database_down
from tests.shop import place, stock

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def delivery(route: str, event_name: str, alias: str) -> Delivery:
    return Delivery.objects.using(alias).get(route=route, event__event_name=event_name)


def claims_lost(alias: str, route: str) -> float:
    value = REGISTRY.get_sample_value(
        "modulith_claims_lost_total", {"module": alias, "route": route}
    )
    return value or 0.0


def test_a_subscriber_whose_database_is_down_costs_its_events_no_attempt(
    client: Client, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings.MODULITH_MAX_ATTEMPTS = 1  # a single counted failure would dead-letter it
    stock(client, "DOWN-1", 5)

    with caplog.at_level(logging.WARNING), database_down("payments"):
        placed = place(client, ("DOWN-1", 2)).json()  # stock is reserved; payments is down
        waiting = delivery("payments", "StockReserved", "inventory")
        for _ in range(5):  # five probes of the route while it stays down
            make_due(alias="inventory")  # (payments' database is down: not that one)
            sweep()
        still_waiting = delivery("payments", "StockReserved", "inventory")

    assert (waiting.status, waiting.attempts) == (DeliveryStatus.PENDING, 0)
    assert "route unavailable: OperationalError" in waiting.last_error
    assert (still_waiting.status, still_waiting.attempts) == (DeliveryStatus.PENDING, 0)
    make_due(alias="inventory")  # (not orders': the order's payment deadline would pass)
    assert sweep().delivered > 0  # the next probe gets through
    assert Order.objects.get(id=placed["orderId"]).status == OrderStatus.CONFIRMED
    assert Payment.objects.filter(order_id=placed["orderId"]).count() == 1
    assert delivery("payments", "StockReserved", "inventory").attempts == 1
    down = [r for r in caplog.records if r.getMessage().startswith("route down: inprocess")]
    back = [r for r in caplog.records if r.getMessage().startswith("route back: inprocess")]
    assert len(down) == 1, [r.getMessage() for r in down]
    assert len(back) == 1
    assert "payments" in down[0].getMessage()


def test_an_outcome_recorded_after_the_claim_lapsed_is_logged_and_not_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    order_id = uuid4()
    with transaction.atomic(using="payments"):
        publish(
            PaymentCaptured(
                order_id=order_id, payment_id=uuid4(), amount=Decimal("1.00"), currency="EUR"
            )
        )  # fails inline: orders has no such order yet; due again at once
    Order.objects.create(
        id=order_id, customer_id="c", total=Decimal("1.00"), currency="EUR", payment_token="t"
    )
    relay = runtime().relay
    slow = relay.claims.take("payments")  # this relay is slow...
    expire_claims(alias="payments")
    assert sweep().delivered == 1  # ...its claim lapses, and another relay delivers
    before = claims_lost("payments", "orders")

    with caplog.at_level(logging.ERROR):
        report = relay._send("payments", slow)  # the slow relay gets there too

    assert (report.delivered, report.lost) == (0, 1)
    assert claims_lost("payments", "orders") == before + 1
    assert any("lost the claim" in r.getMessage() for r in caplog.records)
    assert delivery("orders", "PaymentCaptured", "payments").attempts == 2  # not 3
    assert Order.objects.get(id=order_id).status == OrderStatus.CONFIRMED


def test_a_handler_calling_out_holds_no_transaction_on_its_modules_database() -> None:
    """While a handler waits on the network, another writer of the same SQLite (or
    PostgreSQL) database gets through; its writes then commit with its inbox record."""
    calling = threading.Event()
    answer = threading.Event()
    envelope = Envelope(
        event_id=uuid4(),
        event_name="OrderPlaced",
        source="orders.service",
        occurred_at=timezone.now(),
        schema_version="1.0",
        data={},
    )
    run = HandlerRun(envelope, "inventory", "inventory", "tests.handler")

    def handler() -> None:
        with running(run):
            calling.set()
            answer.wait(10)  # a slow provider, outside any transaction
            with atomic(using="inventory"):
                OutboxEvent.objects.using("inventory").create(
                    id=uuid4(),
                    event_name="Probe",
                    source="inventory.service",
                    occurred_at=timezone.now(),
                    wire={},
                )

    thread = threading.Thread(target=handler)
    thread.start()
    try:
        assert calling.wait(5)
        started = time.monotonic()
        with transaction.atomic(using="inventory"):  # the other writer
            OutboxEvent.objects.using("inventory").create(
                id=uuid4(),
                event_name="Other",
                source="inventory.service",
                occurred_at=timezone.now(),
                wire={},
            )
        waited = time.monotonic() - started
    finally:
        answer.set()
        thread.join(10)

    assert waited < 1.0
    assert run.recorded
    assert run.already_handled()


def test_deliveries_handed_over_after_their_claim_lapsed_are_not_sent_twice(
    slow_to_start: SlowToStart,
) -> None:
    relay = runtime().relay
    handed_over = slow_to_start.handed_over
    order_id = uuid4()
    Order.objects.create(
        id=order_id, customer_id="c", total=Decimal("1.00"), currency="EUR", payment_token="t"
    )
    with transaction.atomic(using="payments"):
        publish(
            PaymentCaptured(
                order_id=order_id, payment_id=uuid4(), amount=Decimal("1.00"), currency="EUR"
            )
        )
    alias, deliveries, all_stored = handed_over[0]  # the PaymentCaptured of payments
    expire_claims(alias=alias, deliveries=deliveries)
    assert sweep().delivered == 1  # the claim lapsed: a sweep delivered it meanwhile

    report = relay.deliver_published(alias, deliveries, all_stored=all_stored)

    assert (alias, all_stored) == ("payments", True)
    assert report.handled == 0
    confirmed = OutboxEvent.objects.using("orders").filter(event_name="OrderConfirmed")
    assert confirmed.count() == 1
