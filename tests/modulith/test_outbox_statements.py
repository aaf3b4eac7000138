"""The bus writes its rows with statements of its own (store/statements.py), preparing the
values itself for the common types: what it stores must be exactly what the ORM would store."""

import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from django.db import connections
from django.db.models import Model

from modulith.database.store.models import Delivery, DeliveryStatus, InboxRecord, OutboxEvent
from modulith.database.store.statements import insert

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

ALIAS = "orders"
MOMENT = datetime(2026, 3, 29, 1, 30, 15, 123456, tzinfo=UTC)


def stored(model: type[Model], pk: Any) -> tuple[Any, ...]:
    """The row as the database holds it, column by column."""
    columns = ", ".join(f'"{field.column}"' for field in model._meta.concrete_fields)
    pk_column = model._meta.pk.column
    with connections[ALIAS].cursor() as cursor:
        cursor.execute(
            f'SELECT {columns} FROM "{model._meta.db_table}" WHERE "{pk_column}" = %s',
            [model._meta.pk.get_db_prep_value(pk, connections[ALIAS])],
        )
        row = cursor.fetchone()
    assert row is not None
    return tuple(row)


def event_values(event_id: uuid.UUID) -> dict[str, Any]:
    return {
        "id": event_id,
        "event_name": "OrderPlaced",
        "source": "orders.service",
        "occurred_at": MOMENT,
        "trace_id": "0af7651916cd43dd8448eb211c80319c",
        "wire": {"detail": {"data": {"orderId": "o-1", "total": "10.50"}}, "n": [1, 2]},
        "created_at": MOMENT,
    }


def delivery_values(event_id: uuid.UUID, route: str) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "route": route,
        "status": DeliveryStatus.PENDING.value,
        "attempts": 0,
        "next_attempt_at": MOMENT,
        "claimed_by": "b1e0c6a2-0000-4000-8000-000000000001",
        "claimed_until": MOMENT + timedelta(seconds=15),
        "last_error": "",
        "delivered_at": None,
        "dead_at": None,
        "updated_at": MOMENT,
    }


# A month later, given in another time zone than the database's.
LATER = MOMENT.astimezone(timezone(timedelta(hours=2))) + timedelta(days=30)


@pytest.mark.parametrize(
    ("scheduled", "scheduled_delivery"),
    [
        ({}, {}),
        (
            {"deliver_at": LATER, "schedule_key": "renewal:1"},
            {
                "next_attempt_at": LATER,
                "claimed_by": "",
                "claimed_until": None,
                "cancellable": True,
            },
        ),
    ],
    ids=["at once", "scheduled"],
)
def test_an_event_and_its_deliveries_are_stored_as_the_orm_stores_them(
    scheduled: dict[str, Any], scheduled_delivery: dict[str, Any]
) -> None:
    ours, theirs = uuid.uuid4(), uuid.uuid4()
    insert(ALIAS, OutboxEvent, [event_values(ours) | scheduled])
    OutboxEvent.objects.using(ALIAS).bulk_create([OutboxEvent(**event_values(theirs), **scheduled)])
    # created_at is auto_now_add: the ORM would overwrite the moment given.
    OutboxEvent.objects.using(ALIAS).filter(id=theirs).update(created_at=MOMENT)
    assert stored(OutboxEvent, ours)[1:] == stored(OutboxEvent, theirs)[1:]

    ours_delivery = delivery_values(ours, "inventory") | scheduled_delivery
    [our_pk] = insert(ALIAS, Delivery, [ours_delivery], returning_pk=True)
    their = Delivery(**(delivery_values(theirs, "inventory") | scheduled_delivery))
    Delivery.objects.using(ALIAS).bulk_create([their])
    Delivery.objects.using(ALIAS).filter(pk=their.pk).update(updated_at=MOMENT)
    ours_row, theirs_row = stored(Delivery, our_pk), stored(Delivery, their.pk)
    assert ours_row[2:] == theirs_row[2:]  # all but the id and the event


def test_an_inbox_record_is_stored_as_the_orm_stores_it() -> None:
    values = {"subscriber": "inventory", "handler": "h.on_x", "event_name": "OrderPlaced"}
    ours, theirs = uuid.uuid4(), uuid.uuid4()
    insert(ALIAS, InboxRecord, [{"event_id": ours, **values, "handled_at": MOMENT}])
    record = InboxRecord(event_id=theirs, **values)
    InboxRecord.objects.using(ALIAS).bulk_create([record])
    InboxRecord.objects.using(ALIAS).filter(pk=record.pk).update(handled_at=MOMENT)
    [ours_row] = InboxRecord.objects.using(ALIAS).filter(event_id=ours).values_list("pk")
    assert stored(InboxRecord, ours_row[0])[2:] == stored(InboxRecord, record.pk)[2:]


def test_values_the_shortcuts_do_not_know_still_go_through_the_field() -> None:
    """A naive datetime or a UUID given as text is prepared by the field itself, as the ORM
    would: the shortcuts only take the plain types."""
    event_id = uuid.uuid4()
    values = {**event_values(event_id), "id": str(event_id)}
    insert(ALIAS, OutboxEvent, [values])
    assert OutboxEvent.objects.using(ALIAS).filter(id=event_id).exists()
