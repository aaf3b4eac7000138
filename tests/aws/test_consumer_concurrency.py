"""A handler's concurrency in queue consumers: two consumers of payments' queue in one process
(as a consumer with several pollers runs them) share the handler's slots, so a slow handler
limited to 1 never runs twice at once; the second consumer keeps the messages it received
hidden until a slot frees, spending none of their receives, and the inventory consumer's
deliveries go on meanwhile. Against the emulator's SQS."""

import threading
from collections.abc import Iterator
from io import StringIO
from typing import Any
from uuid import uuid4

import pytest
from django.core.management import call_command
from django.db import transaction

from modulith import publish
from modulith.aws.consumer import QueueConsumer, queue_consumer
from modulith.aws.context import aws_context
from modulith.database.store.models import InboxRecord
from modulith.runtime import runtime
from modulith.testing import wait_until
from tests.aws.emulator import AwsContext
from tests.events import order_placed, stock_reserved
from tests.modulith.bus.limited_handlers import RUNS, Runs, limited

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

EVENTS = 6


@pytest.fixture
def runs() -> Iterator[Runs]:
    RUNS.__init__()  # type: ignore[misc]  # a fresh count for each test
    yield RUNS
    RUNS.gate.set()


def consumer(module: str) -> QueueConsumer:
    current = runtime()
    return queue_consumer(current, current.topology.module(module), wait_seconds=1)


def queue_counts(module: str, *, dead: bool = False) -> tuple[int, int]:
    """(visible, received and hidden) messages of the module's queue or its dead-letter queue."""
    context = aws_context(runtime())
    url = context.queues.dead_letter_url(module) if dead else context.queues.url(module)
    attributes = context.sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return (
        int(attributes["ApproximateNumberOfMessages"]),
        int(attributes["ApproximateNumberOfMessagesNotVisible"]),
    )


@pytest.fixture
def consuming(aws: AwsContext, settings: Any, runs: Runs) -> Iterator[threading.Event]:
    """Two consumers of payments' queue and one of inventory's, each on its thread, in this
    process, over SQS; stopped (and joined) after the test."""
    settings.MODULITH_TOPOLOGY = limited(runtime().topology, concurrency=1)
    settings.MODULITH_TRANSPORT = "sqs"
    call_command("provision", stdout=StringIO())
    stop = threading.Event()
    threads = [
        threading.Thread(target=consumer(module).run, args=(stop, lambda report: None))
        for module in ("payments", "payments", "inventory")
    ]
    for thread in threads:
        thread.start()
    yield stop
    runs.gate.set()
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
        assert not thread.is_alive()


def test_two_consumers_of_a_queue_never_run_a_handler_limited_to_one_twice_at_once(
    consuming: threading.Event, runs: Runs
) -> None:
    for _ in range(EVENTS):
        with transaction.atomic(using="inventory"):
            publish(stock_reserved(uuid4()))  # to payments' queue: the slow handler
        with transaction.atomic(using="orders"):
            publish(order_placed(("KB-1", 1)))  # to inventory's queue: the quick one

    wait_until(lambda: runs.done["quick"], lambda done: done == EVENTS, awaiting="quick ones")
    # Each payments consumer holds a message: one runs, the other waits for the slot.
    wait_until(
        lambda: queue_counts("payments"),
        lambda counts: counts == (EVENTS - 2, 2),
        awaiting="both payments consumers to hold a message",
        timeout=15,
    )
    assert (runs.now["slow"], runs.done["slow"]) == (1, 0)

    runs.gate.set()
    # A delivery counts once its inbox record commits, after the handler returned.
    handled = InboxRecord.objects.using("payments").filter(event_name="StockReserved")
    wait_until(
        handled.count, lambda count: count == EVENTS, awaiting="every slow delivery", timeout=30
    )

    assert runs.most["slow"] == 1
    assert runs.done["slow"] == EVENTS  # each once
    wait_until(
        lambda: queue_counts("payments"),
        lambda counts: counts == (0, 0),
        awaiting="payments' queue to be empty",
    )
    assert queue_counts("payments", dead=True) == (0, 0)  # none spent its receives
