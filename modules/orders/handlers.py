"""Orders' reactions to the saga's outcome. Each calls a service; none holds rules."""

from contracts.inventory import StockReservationFailed
from contracts.orders import PaymentDeadlinePassed
from contracts.payments import PaymentCaptured, PaymentFailed
from modules.orders import services
from modules.orders.models import CancellationReason
from modulith.bus import PermanentFailure


def on_stock_reservation_failed(event: StockReservationFailed) -> None:
    services.order_cancel(order_id=event.order_id, reason=_reason(event.reason))


def on_payment_captured(event: PaymentCaptured) -> None:
    try:
        services.order_confirm(
            order_id=event.order_id,
            payment_id=event.payment_id,
            amount=event.amount,
            currency=event.currency,
        )
    except services.PaymentMismatch as mismatch:  # no retry makes the amounts agree
        raise PermanentFailure(str(mismatch)) from None


def on_payment_failed(event: PaymentFailed) -> None:
    services.order_cancel(order_id=event.order_id, reason=_reason(event.reason))


def on_payment_deadline_passed(event: PaymentDeadlinePassed) -> None:
    services.order_cancel(order_id=event.order_id, reason=CancellationReason.PAYMENT_TIMEOUT)


def _reason(value: str) -> CancellationReason:
    try:
        return CancellationReason(value)
    except ValueError:  # no retry can teach orders a reason it does not know
        raise PermanentFailure(f"orders knows no cancellation reason {value!r}") from None
