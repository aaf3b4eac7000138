"""What handlers publish is delivered after the delivery in hand, not inside it: a chain of
events runs hop after hop on one thread, each outcome recorded before the next hop starts."""

from typing import Any

import pytest
from django.db.models.signals import post_save
from django.test import Client

from modules.inventory.models import Reservation, ReservationStatus
from modulith.outbox.models import Delivery, DeliveryStatus
from tests.shop import order, place, stock

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def status_of(event_name: str, alias: str) -> str:
    return Delivery.objects.using(alias).get(event__event_name=event_name).status


def test_each_hop_of_the_saga_is_recorded_before_the_next_hop_runs(client: Client) -> None:
    stock(client, "CASCADE-1", 5)
    seen: dict[str, str] = {}

    def stock_committed(sender: Any, instance: Reservation, **kwargs: Any) -> None:
        if instance.status == ReservationStatus.COMMITTED:  # the saga's last hop
            seen["OrderPlaced"] = status_of("OrderPlaced", "orders")
            seen["StockReserved"] = status_of("StockReserved", "inventory")
            seen["PaymentCaptured"] = status_of("PaymentCaptured", "payments")

    post_save.connect(stock_committed, sender=Reservation, weak=False)
    try:
        placed = place(client, ("CASCADE-1", 1)).json()
    finally:
        post_save.disconnect(stock_committed, sender=Reservation)

    assert order(client, placed["orderId"])["status"] == "CONFIRMED"
    assert seen == {
        "OrderPlaced": DeliveryStatus.DELIVERED,
        "StockReserved": DeliveryStatus.DELIVERED,
        "PaymentCaptured": DeliveryStatus.DELIVERED,
    }
    assert status_of("OrderConfirmed", "orders") == DeliveryStatus.DELIVERED
