"""What handlers publish is delivered after the delivery in hand, not inside it: a chain of
events runs hop after hop on one thread, its outcomes recorded together once the chain ends."""

import traceback
from typing import Any

import pytest
from django.db.models.signals import post_save
from django.test import Client

from modules.inventory.models import Reservation, ReservationStatus
from modules.orders.models import Order, OrderStatus
from modules.payments.models import Payment
from modulith.database.store.models import Delivery, DeliveryStatus
from tests.shop import order, place, stock

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def status_of(event_name: str, alias: str) -> str:
    return Delivery.objects.using(alias).get(event__event_name=event_name).status


def test_the_saga_runs_hop_after_hop_and_its_outcomes_are_recorded_when_the_request_returns(
    client: Client,
) -> None:
    stock(client, "CASCADE-1", 5)
    depth: dict[str, int] = {}
    seen_at_last_hop: dict[str, str] = {}

    def saved(sender: Any, instance: Any, **kwargs: Any) -> None:
        if isinstance(instance, Payment):
            depth["2 payments charges"] = len(traceback.extract_stack())
        elif isinstance(instance, Order) and instance.status == OrderStatus.CONFIRMED:
            depth["3 orders confirms"] = len(traceback.extract_stack())
        elif isinstance(instance, Reservation) and instance.status == ReservationStatus.COMMITTED:
            depth["4 inventory commits"] = len(traceback.extract_stack())
            seen_at_last_hop["OrderPlaced"] = status_of("OrderPlaced", "orders")

    for model in (Reservation, Payment, Order):
        post_save.connect(saved, sender=model, weak=False)
    try:
        placed = place(client, ("CASCADE-1", 1)).json()
    finally:
        for model in (Reservation, Payment, Order):
            post_save.disconnect(saved, sender=model)

    assert order(client, placed["orderId"])["status"] == "CONFIRMED"
    # One delivery deep at every hop: the last hop does not run inside the first.
    assert len(depth) == 3
    assert max(depth.values()) - min(depth.values()) <= 10, depth
    # Recorded together after the last hop, before the request returned.
    assert seen_at_last_hop == {"OrderPlaced": DeliveryStatus.PENDING}
    for event_name, alias in [
        ("OrderPlaced", "orders"),
        ("StockReserved", "inventory"),
        ("PaymentCaptured", "payments"),
        ("OrderConfirmed", "orders"),
    ]:
        assert status_of(event_name, alias) == DeliveryStatus.DELIVERED, event_name
