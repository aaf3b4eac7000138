"""Payments' manifest: what it publishes, handles, provides and uses."""

from contracts.inventory import StockReserved
from contracts.orders import OrderPaymentRefused, OrderQueries
from contracts.payments import PaymentCaptured, PaymentFailed, PaymentRefunded
from modulith import Module

manifest = Module(
    name="payments",
    app="modules.payments",
    publishes=(PaymentCaptured, PaymentFailed, PaymentRefunded),
    handles={
        StockReserved: "modules.payments.handlers.on_stock_reserved",
        OrderPaymentRefused: "modules.payments.handlers.on_order_payment_refused",
    },
    uses=(OrderQueries,),
    api="modules.payments.api.router",
)
