"""Inventory's manifest: what it publishes, handles, provides and uses."""

from contracts.inventory import (
    InventoryQueries,
    StockReleased,
    StockReservationFailed,
    StockReserved,
)
from contracts.orders import OrderCancelled, OrderConfirmed, OrderPlaced
from contracts.payments import PaymentFailed
from modulith import Module

manifest = Module(
    name="inventory",
    app="modules.inventory",
    publishes=(StockReserved, StockReservationFailed, StockReleased),
    handles={
        OrderPlaced: "modules.inventory.handlers.on_order_placed",
        OrderConfirmed: "modules.inventory.handlers.on_order_confirmed",
        OrderCancelled: "modules.inventory.handlers.on_order_cancelled",
        PaymentFailed: "modules.inventory.handlers.on_payment_failed",
    },
    provides={InventoryQueries: "modules.inventory.queries.InventoryQueriesImpl"},
    api="modules.inventory.api.router",
    # A partner's checkout puts the orders it takes on the bus, for inventory to reserve.
    accepts_from={OrderPlaced: "partner.checkout"},
)
