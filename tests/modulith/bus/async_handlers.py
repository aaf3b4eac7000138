"""Orders' handler of PaymentCaptured written as an `async def` handler, for the tests of async
handlers: its writes and its event in `aatomic`, with the async ORM."""

from contracts.orders import OrderConfirmed
from contracts.payments import PaymentCaptured
from modules.orders.models import Order, OrderStatus
from modulith import aatomic, apublish, current_envelope

# The ids of the events this handler's body ran for, in this process (a retry runs it again).
RAN_FOR: list[str] = []
PATH = f"{__name__}.on_payment_captured"


async def on_payment_captured(event: PaymentCaptured) -> None:
    envelope = current_envelope()
    RAN_FOR.append(str(envelope.event_id if envelope else None))
    async with aatomic(using="orders"):
        # Raises Order.DoesNotExist while the order is not there: retried, as a handler's error.
        order = await Order.objects.select_for_update().aget(id=event.order_id)
        if order.status != OrderStatus.PENDING:
            return
        order.status = OrderStatus.CONFIRMED
        await order.asave(update_fields=["status", "updated_at"])
        await apublish(OrderConfirmed(order_id=order.id))


def on_payment_captured_unawaited(event: PaymentCaptured) -> object:
    """A plain function handing back the coroutine (no functools.wraps, so no check at start
    can see what it wraps): the bus refuses to leave it unawaited."""
    return on_payment_captured(event)


UNAWAITED = f"{__name__}.on_payment_captured_unawaited"
