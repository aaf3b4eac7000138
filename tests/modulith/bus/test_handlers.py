"""An `async def` handler is run to its end by every executor (inline, on the delivery threads,
by the relay's sweep, as a Celery task), also when its event was published from an async view:
its writes and its inbox record commit together, so a duplicate has no second effect and a
failure leaves nothing behind for the retry to trip on."""

import dataclasses
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest
from asgiref.sync import async_to_sync
from django.db import connections, transaction

from contracts.payments import PaymentCaptured
from modules.orders.models import Order, OrderStatus
from modulith import aatomic, apublish, publish
from modulith.bus import Envelope
from modulith.database.store.models import Delivery, DeliveryStatus, InboxRecord, OutboxEvent
from modulith.modules import Topology
from modulith.modules.topology import HandlerSpec
from modulith.outbox.executors import BySweep, Inline, ThreadPool
from modulith.outbox.relay import Relay
from modulith.runtime import install, runtime
from modulith.runtime.bootstrap import ExecutorFactory, build_runtime
from modulith.tasks import CeleryExecutor
from modulith.testing import make_due, wait_until
from modulith.transports.transport import DUPLICATE
from tests.modulith.bus import async_handlers
from tests.modulith.test_delivery import pending_order

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


class OneDeliveryThread(ThreadPool):
    """The thread-pool executor on one thread, which closes its connections when told (or the
    test databases, still open on it, could not be dropped at the end)."""

    def __init__(self, relay: Relay) -> None:
        super().__init__(relay, workers=1)

    def close(self) -> None:
        self._pool.submit(connections.close_all).result(timeout=10)
        self._pool.shutdown()


EXECUTORS: dict[str, ExecutorFactory] = {
    "inline": Inline,
    "thread": OneDeliveryThread,
    "sweep": lambda relay: BySweep(),
    "celery": lambda relay: CeleryExecutor(),  # eager: the tests have no broker
}


def with_handler(topology: Topology, path: str) -> Topology:
    """The topology with orders handling PaymentCaptured by the handler at `path`."""
    orders = topology.module("orders")
    handles: dict[type[Any], HandlerSpec | tuple[HandlerSpec, ...]] = {
        **orders.handles,
        PaymentCaptured: path,
    }
    modules = tuple(
        dataclasses.replace(module, handles=handles) if module is orders else module
        for module in topology.modules
    )
    return dataclasses.replace(topology, modules=modules)


@contextmanager
def handled_by(path: str, executor: ExecutorFactory = Inline) -> Iterator[None]:
    """The runtime with orders handling PaymentCaptured by `path`, on `executor`."""
    previous = runtime()
    install(build_runtime(topology=with_handler(previous.topology, path), executor=executor))
    async_handlers.RAN_FOR.clear()
    try:
        yield
    finally:
        if isinstance(used := runtime().executor, OneDeliveryThread):
            used.close()
        install(previous)


@pytest.fixture(params=list(EXECUTORS))
def executor(request: pytest.FixtureRequest) -> Iterator[str]:
    """The runtime with the async handler, on one executor, for one test."""
    with handled_by(async_handlers.PATH, EXECUTORS[request.param]):
        yield str(request.param)


def captured(order_id: UUID) -> PaymentCaptured:
    return PaymentCaptured(
        order_id=order_id, payment_id=uuid4(), amount=Decimal("10.00"), currency="EUR"
    )


def publish_in_a_sync_view(order_id: UUID) -> None:
    with transaction.atomic(using="payments"):
        publish(captured(order_id))


def publish_in_an_async_view(order_id: UUID) -> None:
    async def view() -> None:
        async with aatomic(using="payments"):
            await apublish(captured(order_id))

    async_to_sync(view)()


def confirmed(order_id: UUID, executor: str) -> str:
    """The order's status once its delivery has run (the sweep's once the relay swept)."""
    if executor == "sweep":
        runtime().relay.drain(["payments"])
    return str(
        wait_until(
            lambda: Order.objects.get(id=order_id).status,
            lambda status: status != OrderStatus.PENDING,
            awaiting=f"order {order_id} to leave PENDING",
            timeout=10,
        )
    )


@pytest.mark.parametrize(
    "publisher", [publish_in_a_sync_view, publish_in_an_async_view], ids=["sync", "async"]
)
def test_every_executor_runs_an_async_handler_to_its_end(
    executor: str, publisher: Callable[[UUID], None]
) -> None:
    order_id = uuid4()
    pending_order(order_id)

    publisher(order_id)

    assert confirmed(order_id, executor) == OrderStatus.CONFIRMED
    event_id = OutboxEvent.objects.using("payments").get().id
    assert InboxRecord.objects.using("orders").get().event_id == event_id
    assert [str(event_id)] == async_handlers.RAN_FOR
    assert OutboxEvent.objects.using("orders").get().event_name == "OrderConfirmed"
    wait_until(
        lambda: Delivery.objects.using("payments").get().status,
        lambda status: status == DeliveryStatus.DELIVERED,
        awaiting="the delivery to be marked delivered",
        timeout=10,
    )


def test_a_duplicate_of_an_event_an_async_handler_handled_has_no_second_effect() -> None:
    with handled_by(async_handlers.PATH):
        order_id = uuid4()
        pending_order(order_id)
        publish_in_an_async_view(order_id)
        envelope = Envelope.from_wire(OutboxEvent.objects.using("payments").get().wire)
        orders = runtime().topology.module("orders")

        again = runtime().dispatcher.deliver(envelope, orders)

        assert again == DUPLICATE
        assert InboxRecord.objects.using("orders").count() == 1
        assert OutboxEvent.objects.using("orders").filter(event_name="OrderConfirmed").count() == 1


def test_a_failing_async_handler_leaves_nothing_and_its_retry_handles_the_event() -> None:
    with handled_by(async_handlers.PATH):
        order_id = uuid4()
        publish_in_an_async_view(order_id)  # the order is not there yet: the handler raises
        delivery = Delivery.objects.using("payments").get()
        assert delivery.status == DeliveryStatus.PENDING
        assert delivery.attempts == 1
        assert "DoesNotExist" in delivery.last_error
        assert not InboxRecord.objects.using("orders").exists()

        pending_order(order_id)
        make_due(alias="payments")
        runtime().relay.drain(["payments"])

        assert Order.objects.get(id=order_id).status == OrderStatus.CONFIRMED
        assert Delivery.objects.using("payments").get().status == DeliveryStatus.DELIVERED
        assert InboxRecord.objects.using("orders").count() == 1
        assert len(async_handlers.RAN_FOR) == 2


@pytest.mark.filterwarnings("error::RuntimeWarning")  # "coroutine ... was never awaited"
def test_a_plain_handler_returning_a_coroutine_fails_its_delivery_with_the_reason() -> None:
    with handled_by(async_handlers.UNAWAITED):
        order_id = uuid4()
        pending_order(order_id)

        publish_in_a_sync_view(order_id)

        delivery = Delivery.objects.using("payments").get()
        assert delivery.status == DeliveryStatus.PENDING
        assert delivery.last_error == (
            "TypeError: handler on_payment_captured_unawaited returned an awaitable without "
            "awaiting it: make it async def, or mark it with asgiref.sync.markcoroutinefunction"
        )
        assert not async_handlers.RAN_FOR
        assert Order.objects.get(id=order_id).status == OrderStatus.PENDING
        assert not InboxRecord.objects.using("orders").exists()
