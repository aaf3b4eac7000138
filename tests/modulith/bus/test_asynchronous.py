"""`apublish` in `aatomic`, from async code as an async view runs it (`async_to_sync` plays the
server's part): the event commits with the writes of the block and is delivered after the
commit; an exception or a cancellation rolls back both, and nothing is delivered."""

import asyncio
from datetime import timedelta
from decimal import Decimal
from uuid import UUID, uuid4

import pytest
from asgiref.sync import async_to_sync

from contracts.payments import PaymentCaptured
from modules.orders.models import Order, OrderStatus
from modules.payments.models import Payment, PaymentStatus
from modulith import aatomic, acancel_scheduled, apublish
from modulith.database.store.models import Delivery, DeliveryStatus, OutboxEvent
from tests.modulith.test_delivery import pending_order

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


class Refused(Exception):
    """What the view raises after its writes and its event."""


async def capture(order_id: UUID, *, then: str = "commit") -> UUID:
    """An async view's work: a payment stored and its event published in one transaction of
    payments' database; `then` says how the block ends."""
    async with aatomic(using="payments"):
        payment = await Payment.objects.acreate(
            order_id=order_id,
            customer_id="c",
            amount=Decimal("10.00"),
            currency="EUR",
            status=PaymentStatus.CAPTURED,
            gateway_reference="ch_1",
        )
        event_id = await apublish(
            PaymentCaptured(
                order_id=order_id, payment_id=payment.id, amount=payment.amount, currency="EUR"
            )
        )
        if then == "raise":
            raise Refused
        if then == "wait":
            await asyncio.sleep(30)  # cancelled long before
    return event_id


def nothing_stored() -> bool:
    return (
        not Payment.objects.exists()
        and not OutboxEvent.objects.using("payments").exists()
        and not Delivery.objects.using("payments").exists()
    )


def test_an_event_published_in_aatomic_commits_with_the_writes_and_is_delivered_after() -> None:
    order_id = uuid4()
    pending_order(order_id)

    event_id = async_to_sync(capture)(order_id)

    assert Payment.objects.get().order_id == order_id
    assert OutboxEvent.objects.using("payments").get().id == event_id
    # Delivered inline once the transaction committed: orders confirmed the order.
    assert Order.objects.get(id=order_id).status == OrderStatus.CONFIRMED


def test_an_exception_in_aatomic_rolls_back_the_writes_and_the_event() -> None:
    order_id = uuid4()
    pending_order(order_id)

    with pytest.raises(Refused):
        async_to_sync(capture)(order_id, then="raise")

    assert nothing_stored()
    assert Order.objects.get(id=order_id).status == OrderStatus.PENDING


def test_a_view_cancelled_inside_aatomic_rolls_back_the_writes_and_the_event() -> None:
    """As when a client disconnects: Django cancels the async view's task."""
    order_id = uuid4()
    pending_order(order_id)

    async def disconnected() -> None:
        view = asyncio.create_task(capture(order_id, then="wait"))
        async with asyncio.timeout(10):
            while not await _published():  # the view is inside its block, its event stored
                await asyncio.sleep(0.01)
        view.cancel()
        with pytest.raises(asyncio.CancelledError):
            await view

    async_to_sync(disconnected)()

    assert nothing_stored()
    assert Order.objects.get(id=order_id).status == OrderStatus.PENDING


async def _published() -> bool:
    """Whether the view's transaction holds its event yet: asked on the view's own thread (and
    connection), the only one that sees it before the commit."""
    return await OutboxEvent.objects.using("payments").aexists()


def test_apublish_outside_aatomic_is_refused_and_stores_nothing() -> None:
    async def careless() -> None:
        await apublish(
            PaymentCaptured(
                order_id=uuid4(), payment_id=uuid4(), amount=Decimal("1.00"), currency="EUR"
            )
        )

    with pytest.raises(RuntimeError, match=r"await apublish inside async with aatomic\(using="):
        async_to_sync(careless)()

    assert nothing_stored()


def test_apublish_schedules_as_publish_does() -> None:
    async def schedule() -> UUID:
        async with aatomic(using="payments"):
            return await apublish(
                PaymentCaptured(
                    order_id=uuid4(), payment_id=uuid4(), amount=Decimal("1.00"), currency="EUR"
                ),
                delay=timedelta(hours=1),
                schedule_key="capture-later",
            )

    event_id = async_to_sync(schedule)()

    event = OutboxEvent.objects.using("payments").get(id=event_id)
    assert event.schedule_key == "capture-later"
    assert event.deliver_at is not None
    assert event.deliver_at - event.created_at == timedelta(hours=1)
    assert Delivery.objects.using("payments").get().delivered_at is None


async def schedule_capture(key: str) -> UUID:
    async with aatomic(using="payments"):
        return await apublish(
            PaymentCaptured(
                order_id=uuid4(), payment_id=uuid4(), amount=Decimal("1.00"), currency="EUR"
            ),
            delay=timedelta(hours=1),
            schedule_key=key,
        )


def test_acancel_scheduled_cancels_with_the_block_s_commit_and_not_after_its_rollback() -> None:
    kept = async_to_sync(schedule_capture)("kept")
    cancelled = async_to_sync(schedule_capture)("cancelled")

    async def cancel(key: str, *, then: str) -> int:
        async with aatomic(using="payments"):
            count = await acancel_scheduled(key=key)
            if then == "raise":
                raise Refused
        return count

    with pytest.raises(Refused):
        async_to_sync(cancel)("kept", then="raise")
    assert async_to_sync(cancel)("cancelled", then="commit") == 1

    statuses = dict(Delivery.objects.using("payments").values_list("event_id", "status"))
    assert statuses == {kept: DeliveryStatus.PENDING, cancelled: DeliveryStatus.CANCELLED}
