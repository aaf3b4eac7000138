"""What the dispatcher makes of an event of another version than the subscriber's contract:
an older one (an outbox row of an older release, an event a producer holds back) is upcast
through the chain and handled as the current version; an old name is answered to; a newer
major version, a gap in the chain, or old data its upcaster cannot take is dead with its
reason."""

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, ClassVar
from uuid import UUID, uuid4

import pytest
from django.db import transaction

from contracts.inventory import StockReservationFailed
from modules.orders.models import Order, OrderStatus
from modulith import Module
from modulith.bus import Dispatcher, Envelope, publish
from modulith.contracts import Converter, Event, unchanged
from modulith.database.store.models import Delivery, DeliveryStatus, OutboxEvent
from modulith.modules import Topology
from modulith.runtime import runtime
from modulith.testing import wait_until
from modulith.testing.published import committed
from modulith.transports.transport import DELIVERED
from tests.conftest import sweep
from tests.outbox_rows import stored_events

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def pending_order(order_id: UUID) -> None:
    Order.objects.create(
        id=order_id, customer_id="c", total=Decimal("10.00"), currency="EUR", payment_token="t"
    )


def status_of(order_id: UUID) -> str:
    return str(Order.objects.get(id=order_id).status)


# --- the shop: StockReservationFailed is at 3.0, and called its SKUs `skus` before -------


def test_a_version_1_event_left_in_an_outbox_is_handled_as_version_3() -> None:
    order_id = uuid4()
    pending_order(order_id)
    # Stored by a release that published version 1 (tests/outbox_rows.py writes 1.0).
    stored_events(
        "inventory",
        "StockReservationFailed",
        "orders",
        {"orderId": str(order_id), "reason": "OUT_OF_STOCK", "skus": ["KB-1"]},
    )

    sweep()

    delivery = Delivery.objects.using("inventory").get(route="orders")
    assert delivery.status == DeliveryStatus.DELIVERED
    assert status_of(order_id) == OrderStatus.CANCELLED


def test_a_producer_held_back_to_an_older_version_publishes_it_and_subscribers_read_it(
    settings: Any,
) -> None:
    settings.MODULITH_PUBLISH_VERSIONS = {"StockReservationFailed": 1}
    order_id = uuid4()
    pending_order(order_id)

    with transaction.atomic(using="inventory"):
        event_id = publish(
            StockReservationFailed(order_id=order_id, reason="OUT_OF_STOCK", missing_skus=["A"])
        )

    wire = OutboxEvent.objects.using("inventory").get(id=event_id).wire
    assert wire["detail"]["metadata"]["schemaVersion"] == "1.0"
    assert wire["detail"]["data"] == {
        "orderId": str(order_id),
        "reason": "OUT_OF_STOCK",
        "skus": ["A"],
    }
    wait_until(lambda: status_of(order_id), OrderStatus.CANCELLED.__eq__, awaiting="the cancel")


# --- a renamed, restructured event --------------------------------------------------------

RECEIVED: list[Any] = []


def on_parcel_dispatched(event: Any) -> None:
    RECEIVED.append(event)


def split_address(data: dict[str, Any]) -> dict[str, Any]:
    """Version 1 had one `address` line; version 2 keeps the city apart."""
    street, _, city = data.pop("address").partition(", ")
    return data | {"street": street, "city": city}


class ParcelDispatched(Event):
    schema_version: ClassVar[str] = "2.0"
    upcasters: ClassVar[Mapping[int, Converter]] = {1: split_address}
    former_names: ClassVar[Mapping[str, int]] = {"ParcelSent": 1}
    parcel_id: str
    street: str
    city: str


class ParcelLost(Event):
    """At 3.0, read from 2.x only: nothing leads from 1 to 2."""

    schema_version: ClassVar[str] = "3.0"
    upcasters: ClassVar[Mapping[int, Converter]] = {2: unchanged}
    parcel_id: str


WAREHOUSE = Module(
    name="warehouse", app="tests.warehouse", publishes=(ParcelDispatched, ParcelLost)
)
SHIPPING = Module(
    name="shipping",
    app="tests.shipping",
    handles={
        ParcelDispatched: f"{__name__}.on_parcel_dispatched",
        ParcelLost: f"{__name__}.on_parcel_dispatched",
    },
    database="orders",  # its inbox: any module database serves
)


@pytest.fixture
def dispatcher() -> Dispatcher:
    RECEIVED.clear()
    return Dispatcher(Topology(modules=(WAREHOUSE, SHIPPING), running=frozenset({"shipping"})))


def arriving(name: str, version: str, data: dict[str, Any]) -> Envelope:
    wire = Envelope(
        event_id=uuid4(),
        event_name=name,
        source="warehouse.service",
        occurred_at=datetime.now(UTC),
        schema_version=version,
        data=data,
    ).to_json()
    return Envelope.from_json(wire, max_bytes=10_000)


def test_an_event_under_its_former_name_and_version_is_handled_as_the_current_one(
    dispatcher: Dispatcher,
) -> None:
    old = arriving("ParcelSent", "1.4", {"parcelId": "p-1", "address": "1 Rue Haute, Lyon"})
    current = arriving(
        "ParcelDispatched", "2.0", {"parcelId": "p-2", "street": "2 Quai Sud", "city": "Nantes"}
    )

    assert dispatcher.deliver(old, SHIPPING) == DELIVERED
    assert dispatcher.deliver(current, SHIPPING) == DELIVERED
    assert [
        ParcelDispatched(parcel_id="p-1", street="1 Rue Haute", city="Lyon"),
        ParcelDispatched(parcel_id="p-2", street="2 Quai Sud", city="Nantes"),
    ] == RECEIVED


def test_what_no_upcaster_can_bring_to_the_current_version_is_dead_with_its_reason(
    dispatcher: Dispatcher,
) -> None:
    newer = dispatcher.deliver(arriving("ParcelDispatched", "3.0", {}), SHIPPING)
    gap = dispatcher.deliver(arriving("ParcelLost", "1.0", {"parcelId": "p"}), SHIPPING)
    unreadable = dispatcher.deliver(arriving("ParcelSent", "1.0", {"parcelId": "p"}), SHIPPING)

    assert (newer.reason, newer.error) == (
        "newer_version",
        "ParcelDispatched schema version 3.0 is newer than the version 2.0 shipping knows",
    )
    assert (gap.reason, gap.error) == (
        "version_gap",
        "ParcelLost has no upcaster between versions 1 and 2, so its version 1 cannot become "
        "version 3 (declare upcasters[1] on ParcelLost; versions 1 to 3)",
    )
    assert (unreadable.reason, unreadable.error) == (
        "upcast_failed",
        "ParcelSent 1.0 could not be upcast to 2.0: KeyError: 'address'",
    )
    assert all(outcome.permanent for outcome in (newer, gap, unreadable))
    assert RECEIVED == []


def test_a_scenario_sees_an_event_held_back_to_an_older_version_as_the_current_one(
    settings: Any,
) -> None:
    settings.MODULITH_PUBLISH_VERSIONS = {"StockReservationFailed": 2}
    order_id = uuid4()
    pending_order(order_id)

    with transaction.atomic(using="inventory"):
        publish(
            StockReservationFailed(order_id=order_id, reason="OUT_OF_STOCK", missing_skus=["A"])
        )

    wait_until(lambda: status_of(order_id), OrderStatus.CANCELLED.__eq__, awaiting="the cancel")
    events = [p.event for p in committed(runtime().topology)]
    assert [e for e in events if isinstance(e, StockReservationFailed)] == [
        StockReservationFailed(order_id=order_id, reason="OUT_OF_STOCK", missing_skus=["A"])
    ]
