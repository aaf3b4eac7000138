"""A handler's concurrency: how many of its deliveries run at once in one process. Declared in
the manifest (`modulith.Handler(path, concurrency=N)`), checked as the manifest loads, and
honoured by every delivery thread of the process: under the thread executor, a slow handler
limited to 1 never runs twice at once, the deliveries it cannot take yet go back to the outbox
without holding a thread or costing an attempt, and other handlers' deliveries go on."""

from collections.abc import Iterator
from typing import Any
from uuid import uuid4

import pytest
from django.db import transaction

from modules.orders.module import manifest as orders
from modulith import ConfigurationError, Handler, Module, publish
from modulith.database.store.models import Delivery, DeliveryStatus, InboxRecord
from modulith.modules import Topology
from modulith.runtime import runtime
from modulith.testing import wait_until
from tests.conftest import sweep
from tests.events import order_placed, stock_reserved
from tests.modulith.bus.limited_handlers import RUNS, SLOW, Runs, limited

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

EVENTS = 12  # of each kind: three times the executor's four threads


@pytest.fixture
def runs() -> Iterator[Runs]:
    RUNS.__init__()  # type: ignore[misc]  # a fresh count for each test
    yield RUNS
    RUNS.gate.set()  # nothing stays held after the test


@pytest.mark.parametrize("concurrency", [0, -1, 1.5, "2", True])
def test_a_concurrency_that_is_not_a_whole_number_of_at_least_one_is_refused(
    concurrency: Any,
) -> None:
    with pytest.raises(ConfigurationError) as refused:
        Handler(SLOW, concurrency=concurrency)

    assert str(refused.value) == (
        f"handler {SLOW}: concurrency must be a whole number of at least 1 (how many of its "
        f"deliveries may run at once in one process) or None, not {concurrency!r}"
    )


def test_one_handler_declared_with_two_limits_is_refused() -> None:
    events = list(orders.handles)[:2]

    with pytest.raises(ConfigurationError, match="concurrency 1 and 2: one handler, one limit"):
        Module(
            name="orders",
            app="modules.orders",
            handles={events[0]: Handler(SLOW, concurrency=1), events[1]: Handler(SLOW, 2)},
        )


def test_a_declared_handler_is_named_by_its_path_and_its_limit_counts_where_it_runs() -> None:
    topology = limited(runtime().topology, concurrency=3)

    payments = topology.module("payments")
    assert payments.handlers_for("StockReserved") == (SLOW,)
    assert payments.concurrency_limits == {SLOW: 3}
    assert topology.concurrency_limits() == {SLOW: 3}
    elsewhere = Topology(modules=topology.modules, running=frozenset({"orders", "inventory"}))
    assert elsewhere.concurrency_limits() == {}


def test_under_the_thread_executor_a_handler_limited_to_one_never_runs_twice_at_once(
    settings: Any, runs: Runs
) -> None:
    settings.MODULITH_TOPOLOGY = limited(runtime().topology, concurrency=1)
    settings.MODULITH_ASYNC_HANDLERS = "thread"  # four delivery threads

    for _ in range(EVENTS):  # each in its own transaction: handed to the threads as it commits
        with transaction.atomic(using="inventory"):
            publish(stock_reserved(uuid4()))
        with transaction.atomic(using="orders"):
            publish(order_placed(("KB-1", 1)))

    # The quick handler's deliveries all went through while the slow one held its first.
    wait_until(lambda: runs.done["quick"], lambda done: done == EVENTS, awaiting="quick ones")
    # The others were not started: put back in the outbox, unclaimed, no attempt spent.
    wait_until(lambda: deferred("inventory"), lambda n: n == EVENTS - 1, awaiting="deferrals")
    assert (runs.now["slow"], runs.done["slow"]) == (1, 0)

    runs.gate.set()  # the gateway answers: each delivery takes its turn as the sweeps offer it
    wait_until(
        sweep_done,
        lambda done: done == EVENTS,
        awaiting="every slow delivery",
        timeout=30,
        interval=0.05,
    )

    # A delivery counts once its inbox record and its delivery's status commit, after the
    # handler returned.
    handled = InboxRecord.objects.using("payments").filter(event_name="StockReserved")
    wait_until(handled.count, lambda count: count == EVENTS, awaiting="every inbox record")
    unfinished = Delivery.objects.using("inventory").exclude(status=DeliveryStatus.DELIVERED)
    wait_until(unfinished.count, lambda count: count == 0, awaiting="every delivery's status")
    assert runs.most["slow"] == 1
    assert runs.done["slow"] == EVENTS  # each once
    assert {d.attempts for d in Delivery.objects.using("inventory")} == {1}  # none spent


def deferred(alias: str) -> int:
    """Deliveries put back unclaimed and unattempted: those a busy handler did not start."""
    return (
        Delivery.objects.using(alias)
        .filter(status=DeliveryStatus.PENDING, attempts=0, claimed_by="")
        .count()
    )


def sweep_done() -> int:
    sweep()
    return RUNS.done["slow"]
