"""Orders' manifest: what it publishes, handles, provides and uses."""

from contracts.inventory import InventoryQueries, StockReservationFailed
from contracts.orders import (
    OrderCancelled,
    OrderConfirmed,
    OrderPaymentRefused,
    OrderPlaced,
    OrderQueries,
    PaymentDeadlinePassed,
)
from contracts.payments import PaymentCaptured, PaymentFailed
from modulith import Module

manifest = Module(
    name="orders",
    app="modules.orders",
    publishes=(
        OrderPlaced,
        OrderConfirmed,
        OrderCancelled,
        OrderPaymentRefused,
        # To itself, due ORDERS_PAYMENT_TIMEOUT after the order was placed (a saga timeout).
        PaymentDeadlinePassed,
    ),
    handles={
        StockReservationFailed: "modules.orders.handlers.on_stock_reservation_failed",
        PaymentCaptured: "modules.orders.handlers.on_payment_captured",
        PaymentFailed: "modules.orders.handlers.on_payment_failed",
        PaymentDeadlinePassed: "modules.orders.handlers.on_payment_deadline_passed",
    },
    provides={OrderQueries: "modules.orders.queries.OrderQueriesImpl"},
    uses=(InventoryQueries,),
    api="modules.orders.api.router",
    # The till's billing system reports the card payments it takes for orders; each must
    # match its order's total and currency like any other capture.
    accepts_from={PaymentCaptured: "billing.legacy"},
)
