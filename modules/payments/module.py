"""Payments' manifest: what it publishes, handles, provides and uses."""

from contracts.inventory import StockReserved
from contracts.orders import OrderQueries
from contracts.payments import PaymentCaptured, PaymentFailed
from modulith import Module

manifest = Module(
    name="payments",
    app="modules.payments",
    publishes=(PaymentCaptured, PaymentFailed),
    handles={StockReserved: "modules.payments.handlers.on_stock_reserved"},
    uses=(OrderQueries,),
    api="modules.payments.api.router",
)
