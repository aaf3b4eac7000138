"""Per-key ordering under faults: several keys, each event carrying its sequence number within
its key, handlers failing at random the first time they see an event; two relay processes
sharing the outbox, one of them SIGKILLed and restarted while they work; or a web process
that publishes the events and delivers them in its threads, SIGKILLed and restarted while it
delivers, a relay taking over what it held. Every subscriber applies every key's events in
order, none twice, none lost.

What a subscriber applied is read from its inbox, written in the handler's transaction: its
records, in the order of their ids, are the order the events were applied in."""

import random
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.db import transaction

from modulith import publish
from modulith.database.store.models import Delivery, DeliveryStatus, InboxRecord, OutboxEvent
from modulith.runtime import install, runtime
from modulith.runtime.bootstrap import build_runtime
from modulith.testing import wait_until
from tests.executors import by_sweep
from tests.ordered_events import PUBLISHER, SKIPS, WAITS, PriceChanged, topology
from tests.processes import BackgroundProcess
from tests.service import Service

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

SKUS = [f"SKU-{n}" for n in range(5)]
ROUNDS = 4  # of publishing, each followed by a kill and a restart
PER_ROUND = 3  # events of each SKU a round


# A process running the ordered event's modules, its handlers failing a third of the events
# the first time; what a killed one held is claimed again after three seconds.
ORDERED_PROCESS = {
    "PYTHONUNBUFFERED": "1",
    "DJANGO_SETTINGS_MODULE": "tests.ordered_settings",
    "ORDERED_EVENTS_FAILURE_RATE": "0.3",
    "MODULITH_RETRY_BASE_SECONDS": "0.1",
    "MODULITH_RETRY_MAX_SECONDS": "0.5",
    "MODULITH_CLAIM_SECONDS": "3",
}


class OrderedRelay(BackgroundProcess):
    """`manage.py relay` running the ordered event's modules."""

    def __init__(self, log_dir: Path) -> None:
        super().__init__(
            log_dir / f"relay-{time.monotonic_ns()}.log",
            [sys.executable, "manage.py", "relay", "--interval", "0.2"],
            ORDERED_PROCESS,
        )

    def start(self) -> "OrderedRelay":
        self.launch(lambda: "relaying" in self.output(), what="the relay")
        return self


@pytest.fixture
def publishing_only() -> Iterator[None]:
    """This process publishes the ordered event and delivers nothing: the relays do."""
    previous = runtime()
    install(build_runtime(topology=topology(), executor=by_sweep))
    yield
    install(previous)


def delivered_beyond(count: int) -> bool:
    return Delivery.objects.using(PUBLISHER).filter(status=DeliveryStatus.DELIVERED).count() > count


def wait_until_all_delivered(*processes: BackgroundProcess) -> None:
    wait_until(
        lambda: Delivery.objects.using(PUBLISHER).exclude(status=DeliveryStatus.DELIVERED).count(),
        lambda left: left == 0,
        awaiting="every delivery delivered",
        timeout=90,
        details=lambda: "".join(process.output()[-3000:] for process in processes),
    )


def assert_every_key_applied_in_order_once() -> None:
    expected = {sku: list(range(ROUNDS * PER_ROUND)) for sku in SKUS}
    assert applied_in_order(WAITS) == expected
    assert applied_in_order(SKIPS) == expected


def applied_in_order(subscriber: str) -> dict[str, list[int]]:
    """The sequence numbers each SKU's events were applied in by the subscriber."""
    sequences = {
        str(event.id): (
            event.wire["detail"]["data"]["sku"],
            event.wire["detail"]["data"]["sequence"],
        )
        for event in OutboxEvent.objects.using(PUBLISHER).all()
    }
    applied: dict[str, list[int]] = defaultdict(list)
    for record in InboxRecord.objects.using(subscriber).order_by("id"):
        sku, sequence = sequences[str(record.event_id)]
        applied[sku].append(sequence)
    return dict(applied)


@pytest.mark.slow
def test_every_key_is_applied_in_order_once_through_failures_and_a_relay_killed_and_restarted(
    tmp_path: Path, publishing_only: Any
) -> None:
    chance = random.Random(19)
    survivor = OrderedRelay(tmp_path).start()
    victim = OrderedRelay(tmp_path).start()
    try:
        sequence = 0
        for _ in range(ROUNDS):
            with transaction.atomic(using=PUBLISHER):
                for offset in range(PER_ROUND):
                    for sku in chance.sample(SKUS, len(SKUS)):
                        publish(PriceChanged(sku=sku, sequence=sequence + offset))
            before = sequence * len(SKUS) * 2  # deliveries of the rounds before (2 subscribers)
            sequence += PER_ROUND
            # Killed in the middle of the round: once some of it is delivered, not all.
            wait_until(
                partial(delivered_beyond, before),
                awaiting="the relays to deliver some of the round",
                timeout=30,
            )
            victim.kill()
            victim = OrderedRelay(tmp_path).start()
        wait_until_all_delivered(survivor, victim)
    finally:
        survivor.stop()
        victim.stop()

    assert_every_key_applied_in_order_once()
    assert "fails this once" in survivor.output() + victim.output()  # failures did happen


@pytest.mark.slow
def test_every_key_is_applied_in_order_once_through_a_web_process_killed_while_it_delivers(
    tmp_path: Path,
) -> None:
    """The web process publishes each change as its request commits and delivers it in its
    delivery threads; killed, it leaves deliveries claimed, which block their keys until the
    claim expires and the relay's sweep delivers them, before the later ones of their keys."""
    chance = random.Random(23)
    relay = OrderedRelay(tmp_path).start()
    web = Service(
        tmp_path,
        "ordered-web",
        env=ORDERED_PROCESS,
        MODULITH_ASYNC_HANDLERS="thread",
        ORDERED_EVENTS_APPLY_SECONDS="0.1",  # deliveries in hand when it is killed
    ).start()
    held: list[int] = []  # deliveries the web process held at each kill
    try:
        sequence = 0
        for _ in range(ROUNDS):
            with httpx.Client(base_url=web.url, timeout=10) as client:
                for offset in range(PER_ROUND):
                    for sku in chance.sample(SKUS, len(SKUS)):
                        answer = client.post(f"/prices/{sku}/{sequence + offset}")
                        assert answer.status_code == 201, answer.text
            before = sequence * len(SKUS) * 2
            sequence += PER_ROUND
            wait_until(
                partial(delivered_beyond, before),
                awaiting="the web process to deliver some of the round",
                timeout=30,
            )
            held.append(in_hand())
            web.kill()
            web.start()  # on the same port, as the task that replaces it
        wait_until_all_delivered(web, relay)
    finally:
        web.stop()
        relay.stop()

    assert_every_key_applied_in_order_once()
    assert "fails this once" in web.output() + relay.output()
    assert sum(held) > 0, held  # the kills did take deliveries from the web process's hands


def in_hand() -> int:
    """Deliveries claimed and not done: what the process that claimed them is delivering."""
    return (
        Delivery.objects.using(PUBLISHER)
        .filter(status=DeliveryStatus.PENDING)
        .exclude(claimed_by="")
        .count()
    )
