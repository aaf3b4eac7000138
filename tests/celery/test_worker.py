"""Asynchronous handlers on real Celery processes: `celery -A config worker` and `beat`, on
Redis (started by the test set-up) and on SQS (the emulator).

The test process is the web tier: it places orders, and its deliveries go to the broker as
`modulith.deliver` tasks (MODULITH_ASYNC_HANDLERS=celery, not eager); a worker process runs
them, and the deliveries their handlers publish in turn.
"""

import os
import re
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.db import connections, transaction
from django.test import Client

from config.celery import app as celery_app
from modules.inventory.models import Reservation
from modulith.database.store.models import Delivery, DeliveryStatus
from modulith.testing import wait_until
from tests.aws.emulator import AwsContext
from tests.celery.conftest import (
    WORKER_ARGS,
    Broker,
    CeleryProcess,
    RedisBroker,
    publishing_to,
)
from tests.faults import hold_writes
from tests.shop import final, order, payments, place, product, published, run_the_saga, stock

pytestmark = [pytest.mark.django_db(transaction=True, databases="__all__"), pytest.mark.slow]


def succeeded(worker: CeleryProcess, task: str) -> list[str]:
    """The results of the `task`s the worker ran to the end, as it logged them."""
    pattern = rf"Task {re.escape(task)}\[[\w-]+\] succeeded in [\d.]+s: '([^']*)'"
    return re.findall(pattern, worker.output())


def delivered(worker: CeleryProcess) -> int:
    """How many deliveries the worker's `modulith.deliver` tasks made."""
    reports = succeeded(worker, "modulith.deliver")  # "delivered 1, retried 0, dead 0"
    return sum(int(report.split(",")[0].removeprefix("delivered ")) for report in reports)


# The saga's deliveries: OrderPlaced to inventory (3 orders), StockReserved to payments (2),
# StockReservationFailed, PaymentCaptured and OrderConfirmed (1 each), PaymentFailed to orders
# and inventory (2), OrderCancelled to inventory (2). StockReleased has no subscriber, and each
# order's payment deadline is cancelled once the order is final, never delivered.
SAGA_DELIVERIES = 12


def test_the_saga_completes_through_a_worker(
    client: Client, start_worker: Callable[..., CeleryProcess]
) -> None:
    worker = start_worker()

    run_the_saga(client)

    # Every one of them in the worker (none in this process: its tasks are not eager).
    wait_until(
        lambda: delivered(worker),
        lambda count: count == SAGA_DELIVERIES,
        awaiting=f"the worker to make the saga's {SAGA_DELIVERIES} deliveries",
        details=worker.output,
    )


def test_a_worker_killed_mid_task_loses_nothing_and_doubles_nothing(
    client: Client, redis_broker: RedisBroker, start_worker: Callable[..., CeleryProcess]
) -> None:
    stock(client, "KB-1", 5)
    placed = place(client, ("KB-1", 2)).json()["orderId"]
    assert redis_broker.waiting() == 1  # no worker yet: the delivery's task waits in Redis
    env = _dead_clients_noticed()

    with transaction.atomic(using="orders"):
        hold_writes("orders", "modulith_delivery")  # the task's first step, its claim, waits
        doomed = start_worker(**env)
        task_id, child = _running(doomed)
        # A pool child dies (say the kernel's OOM killer): the worker sees it and, the task
        # being rejected on a lost worker, puts it back in the queue; a child takes it again.
        os.kill(child, signal.SIGKILL)
        assert _running(doomed, task_id, other_than=child)[0] == task_id
        # Now the whole worker dies, the task in hand: nothing acknowledges it.
        doomed.kill()
        wait_until(
            _statements_waiting_for_the_lock,
            lambda waiting: waiting == 0,
            awaiting="PostgreSQL to end the dead worker's sessions",
        )

    assert "WorkerLostError" in doomed.output()
    assert redis_broker.unacknowledged() == 1  # taken, never acknowledged: Redis keeps it
    assert order(client, placed)["status"] == "PENDING"
    assert not Reservation.objects.filter(order_id=placed).exists()
    [delivery] = Delivery.objects.using("orders").filter(event__event_name="OrderPlaced")
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.PENDING, 0)

    # The visibility timeout is over: a new worker gets the task back from Redis.
    assert redis_broker.lapse_visibility() == 1
    successor = start_worker(**env)

    assert final(client, placed)["status"] == "CONFIRMED"
    wait_until(
        successor.output,
        lambda output: f"Task modulith.deliver[{task_id}] succeeded" in output,
        awaiting=f"the new worker to finish task {task_id}",
    )
    assert Reservation.objects.filter(order_id=placed).count() == 1
    assert [e["orderId"] for e in published("inventory", "StockReserved")] == [placed]
    assert [p["status"] for p in payments(client, placed)] == ["CAPTURED"]
    # and inventory takes the units off the shelf on OrderConfirmed, once
    wait_until(
        lambda: product(client, "KB-1"),
        lambda kb1: kb1["reserved"] == 0,
        awaiting="KB-1's reservation to be taken off",
        timeout=10,
    )
    assert product(client, "KB-1")["onHand"] == 3


def test_beat_sweeps_an_event_whose_task_the_broker_lost(
    client: Client,
    redis_broker: RedisBroker,
    start_worker: Callable[..., CeleryProcess],
    celery_processes: Callable[..., CeleryProcess],
    tmp_path: Path,
) -> None:
    stock(client, "KB-1", 5)
    placed = place(client, ("KB-1", 2)).json()["orderId"]
    assert redis_broker.waiting() == 1
    # The broker loses the task: a Redis restarted without persistence (as this one runs).
    redis_broker.client.flushdb()

    worker = start_worker()
    # No task anywhere, so nothing to do: the broker holds none, and the worker runs none.
    assert (redis_broker.waiting(), redis_broker.unacknowledged()) == (0, 0)
    active = wait_until(
        lambda: _active(worker),
        lambda answer: answer is not None,
        awaiting="the worker to say what it runs",
        details=worker.output,
    )
    assert active == []
    assert order(client, placed)["status"] == "PENDING"

    # beat sends `modulith.sweep` every MODULITH_RELAY_INTERVAL seconds; the worker runs it.
    schedule = str(tmp_path / "celerybeat-schedule")
    celery_processes(
        "beat", "--schedule", schedule, **redis_broker.env, MODULITH_RELAY_INTERVAL="1"
    )

    assert final(client, placed)["status"] == "CONFIRMED"
    # by a sweep (it goes on to what the deliveries it made published, then logs its result)
    wait_until(
        lambda: succeeded(worker, "modulith.sweep"),
        lambda sweeps: any(not sweep.startswith("delivered 0,") for sweep in sweeps),
        awaiting="a sweep by the worker that delivered something",
        details=worker.output,
    )
    assert Reservation.objects.filter(order_id=placed).count() == 1


@pytest.fixture
def sqs_broker(aws: AwsContext, settings: Any) -> Iterator[Broker]:
    """Celery on the emulator's SQS, on a queue of this test's own (`<prefix>-celery`, deleted
    with the test's other queues); never one of the event queues (`<prefix>-<module>`)."""
    endpoint = urlsplit(aws.emulator.endpoint)
    url = f"sqs://test:test@{endpoint.hostname}:{endpoint.port}"  # kombu: host and port from here
    queue = f"{aws.prefix}-celery"
    env = {
        **aws.env,
        "CELERY_BROKER_URL": url,
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        "MODULITH_ASYNC_HANDLERS": "celery",
    }
    with publishing_to(url, settings, task_default_queue=queue):
        yield Broker(url=url, queue=queue, env=env)


def test_the_saga_completes_through_a_worker_on_sqs(
    client: Client,
    aws: AwsContext,
    sqs_broker: Broker,
    celery_processes: Callable[..., CeleryProcess],
) -> None:
    worker = celery_processes("worker", *WORKER_ARGS, **sqs_broker.env)

    run_the_saga(client)

    wait_until(
        lambda: delivered(worker),
        lambda count: count == SAGA_DELIVERIES,
        awaiting=f"the worker to make the saga's {SAGA_DELIVERIES} deliveries",
        details=worker.output,
    )
    queues = aws.client("sqs").list_queues(QueueNamePrefix=aws.prefix)["QueueUrls"]
    assert [url.rsplit("/", 1)[-1] for url in queues] == [sqs_broker.queue]


def _dead_clients_noticed() -> dict[str, str]:
    """PostgreSQL runs a statement to its end even when its client has died meanwhile, unless
    it checks the connection as it goes (PostgreSQL 14+): the dead worker's claim, waiting
    on the lock, would then be made after all, and the delivery would wait out the claim
    (60 s) for beat's sweep. Delayed, not lost; but this test is about the broker."""
    if connections["orders"].vendor != "postgresql":
        return {}
    return {"PGOPTIONS": "-c client_connection_check_interval=100"}


def _statements_waiting_for_the_lock() -> int:
    """On PostgreSQL, the dead worker's sessions waiting for the lock (until PostgreSQL ends
    them: it checks every 100 ms, see above); SQLite has nothing to end: a waiting writer is
    in the dead process itself."""
    connection = connections["orders"]
    if connection.vendor != "postgresql":
        return 0
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        (waiting,) = cursor.fetchone()
    return int(waiting)


def _active(worker: CeleryProcess) -> list[dict[str, Any]] | None:
    """The tasks the worker is running, as it answers Celery's remote control (None if it did
    not answer within half a second)."""
    replies = celery_app.control.inspect(destination=[worker.nodename], timeout=0.5).active()
    return None if replies is None else [dict(task) for task in replies.get(worker.nodename, [])]


def _running(
    worker: CeleryProcess, task_id: str | None = None, other_than: int | None = None
) -> tuple[str, int]:
    """The `modulith.deliver` task the worker is running (asked through Celery's remote
    control), and the pool child that runs it; bounded in time."""

    def delivering() -> tuple[str, int] | None:
        for task in _active(worker) or []:
            pid = task.get("worker_pid")
            if (
                task["name"] == "modulith.deliver"
                and pid
                and pid != other_than
                and task_id in (None, task["id"])
            ):
                return str(task["id"]), int(pid)
        return None

    running = wait_until(
        delivering,
        awaiting="the worker to be running a delivery",
        timeout=20,
        interval=0.1,
        details=worker.output,
    )
    assert running is not None
    return running
