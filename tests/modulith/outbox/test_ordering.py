"""Per-key ordering in the outbox: for each subscriber, the deliveries of one ordering key go
one at a time in publish order, through retries, dead letters and several relays at once;
other keys, and unordered events, are not held back by them."""

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connections
from django.test import Client

from modulith.database.store.models import Delivery, DeliveryStatus
from modulith.outbox.relay import Relay
from modulith.runtime import install, runtime
from modulith.runtime.bootstrap import build_runtime
from modulith.testing import make_due, wait_until
from tests.executors import by_sweep
from tests.ordered_events import (
    APPLIED,
    FAILURES,
    PUBLISHER,
    SKIPS,
    WAITS,
    in_order,
    publish_changes,
    topology,
)

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


@pytest.fixture(autouse=True)
def _ordered_topology(settings: Any) -> Iterator[None]:
    """The runtime with the ordered event's topology, whose retries wait (until a test makes
    them due); what the handlers applied and fail on cleared before and after."""
    settings.MODULITH_RETRY_BASE_SECONDS = 60
    previous = runtime()
    APPLIED.clear()
    FAILURES.clear()
    install(build_runtime(topology=topology()))
    yield
    install(previous)
    APPLIED.clear()
    FAILURES.clear()


def sweep() -> Any:
    return runtime().relay.drain([PUBLISHER])


def statuses(route: str) -> dict[tuple[str, int], str]:
    rows = Delivery.objects.using(PUBLISHER).filter(route=route).select_related("event")
    return {
        (row.event.wire["detail"]["data"]["sku"], row.event.wire["detail"]["data"]["sequence"]): (
            row.status
        )
        for row in rows
    }


def dead_letter(route: str) -> Delivery:
    return Delivery.objects.using(PUBLISHER).get(route=route, status=DeliveryStatus.DEAD)


# Retries -----------------------------------------------------------------------------------


def test_a_key_s_later_events_wait_while_an_earlier_one_is_retried_and_other_keys_go_on() -> None:
    FAILURES.once.add((WAITS, "A", 1))

    publish_changes(("A", 1), ("A", 2), ("B", 1), ("A", 3), ("B", 2))

    assert in_order(APPLIED[WAITS]) == {"B": [1, 2]}  # A waits behind its first, retried
    assert in_order(APPLIED[SKIPS]) == {"A": [1, 2, 3], "B": [1, 2]}  # another subscriber
    waiting = Delivery.objects.using(PUBLISHER).filter(route=WAITS, status=DeliveryStatus.PENDING)
    assert waiting.count() == 3
    assert waiting.filter(claimed_by="").count() == 3  # handed back, for their turn
    assert [d.attempts for d in waiting.order_by("id")] == [1, 0, 0]

    make_due(alias=PUBLISHER)
    report = sweep()

    assert report.delivered == 3
    assert in_order(APPLIED[WAITS]) == {"A": [1, 2, 3], "B": [1, 2]}


def test_events_of_one_key_published_together_are_applied_in_order_and_wait_on_a_failure() -> None:
    FAILURES.once.add((WAITS, "A", 2))

    publish_changes(("A", 1), ("A", 2), ("A", 3), ("B", 1), together=True)

    assert in_order(APPLIED[WAITS]) == {"A": [1], "B": [1]}
    assert in_order(APPLIED[SKIPS]) == {"A": [1, 2, 3], "B": [1]}

    make_due(alias=PUBLISHER)
    sweep()

    assert in_order(APPLIED[WAITS]) == {"A": [1, 2, 3], "B": [1]}


# Several relays ----------------------------------------------------------------------------


def test_several_relays_at_once_apply_every_key_in_order_with_failures_along_the_way(
    settings: Any,
) -> None:
    settings.MODULITH_RETRY_BASE_SECONDS = 0.0  # a failed one is due again at once
    install(build_runtime(topology=topology(), executor=by_sweep))
    skus = [f"SKU-{n}" for n in range(6)]
    changes = [(sku, sequence) for sequence in range(1, 9) for sku in skus]
    for sku, sequence in changes[::5]:
        FAILURES.once.add((WAITS, sku, sequence))
        FAILURES.once.add((SKIPS, sku, sequence))
    publish_changes(*changes, together=True)
    relays = [build_runtime(topology=topology(), executor=by_sweep).relay for _ in range(3)]
    done = threading.Event()
    errors: list[BaseException] = []

    def relay_loop(relay: Relay) -> None:
        try:
            deadline = time.monotonic() + 60
            while not done.is_set() and time.monotonic() < deadline:
                relay.sweep([PUBLISHER], limit=20)
        except BaseException as error:  # reported by the test, not lost in the thread
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=relay_loop, args=(relay,)) for relay in relays]
    for thread in threads:
        thread.start()
    try:
        wait_until(
            lambda: len(APPLIED[WAITS]) == len(changes) and len(APPLIED[SKIPS]) == len(changes),
            awaiting="every change applied by both subscribers",
            timeout=60,
        )
    finally:
        done.set()
        for thread in threads:
            thread.join(timeout=30)
    assert not errors
    expected = {sku: list(range(1, 9)) for sku in skus}
    assert in_order(APPLIED[WAITS]) == expected
    assert in_order(APPLIED[SKIPS]) == expected
    assert not Delivery.objects.using(PUBLISHER).exclude(status=DeliveryStatus.DELIVERED).exists()


# Dead letters ------------------------------------------------------------------------------


def test_a_dead_delivery_holds_its_key_for_a_subscriber_that_waits_and_only_its_key() -> None:
    FAILURES.always.add((WAITS, "A", 2))

    publish_changes(("A", 1), ("A", 2), ("A", 3), ("B", 1))
    make_due(alias=PUBLISHER)
    sweep()

    assert in_order(APPLIED[WAITS]) == {"A": [1], "B": [1]}
    assert statuses(WAITS) == {
        ("A", 1): DeliveryStatus.DELIVERED,
        ("A", 2): DeliveryStatus.DEAD,
        ("A", 3): DeliveryStatus.PENDING,
        ("B", 1): DeliveryStatus.DELIVERED,
    }
    publish_changes(("B", 2))
    assert in_order(APPLIED[WAITS]) == {"A": [1], "B": [1, 2]}


def test_a_replayed_dead_letter_is_applied_then_its_key_s_later_events() -> None:
    FAILURES.always.add((WAITS, "A", 1))
    publish_changes(("A", 1), ("A", 2), ("A", 3))
    assert APPLIED[WAITS] == []
    FAILURES.clear()  # the fix is out

    [outbox] = [letters for letters in runtime().dead_letters if hasattr(letters, "relay")]
    replayed = outbox.replay(runtime().topology.module(PUBLISHER))

    assert replayed.count == 3  # the dead letter, then the two it held back
    assert in_order(APPLIED[WAITS]) == {"A": [1, 2, 3]}


def test_a_discarded_dead_letter_lets_its_key_go_on() -> None:
    FAILURES.always.add((WAITS, "A", 1))
    publish_changes(("A", 1), ("A", 2))

    dead_letter(WAITS).delete()
    sweep()

    assert in_order(APPLIED[WAITS]) == {"A": [2]}


def test_a_subscriber_that_skips_past_dead_letters_goes_on_with_the_key() -> None:
    FAILURES.always.add((SKIPS, "A", 1))

    publish_changes(("A", 1), ("A", 2), ("A", 3))

    assert in_order(APPLIED[SKIPS]) == {"A": [2, 3]}
    assert dead_letter(SKIPS).attempts == 1
    assert APPLIED[WAITS] == [("A", 1), ("A", 2), ("A", 3)]


# The admin ---------------------------------------------------------------------------------

DELIVERIES = "/admin/modulith/delivery/"


def test_the_admin_lists_blocked_keys_and_names_what_blocks_each(django_user_model: Any) -> None:
    FAILURES.always.add((WAITS, "A", 1))
    publish_changes(("A", 1), ("A", 2), ("A", 3), ("B", 1))
    dead = dead_letter(WAITS)
    waiting = list(
        Delivery.objects.using(PUBLISHER)
        .filter(route=WAITS, status=DeliveryStatus.PENDING)
        .order_by("id")
    )
    browser = Client()
    browser.force_login(django_user_model.objects.create_superuser("admin", "a@b.c", "pw"))

    blocked = browser.get(DELIVERIES, {"module": PUBLISHER, "order": "blocked"})
    blocking = browser.get(DELIVERIES, {"module": PUBLISHER, "order": "blocking"})
    detail = browser.get(f"{DELIVERIES}{waiting[0].pk}/change/", {"module": PUBLISHER})

    assert [d.pk for d in blocked.context["cl"].result_list] == [d.pk for d in reversed(waiting)]
    assert [d.pk for d in blocking.context["cl"].result_list] == [dead.pk]
    text = detail.content.decode()
    assert f"#{dead.pk}</a> (DEAD, 1 attempt(s)): A #1 can never be applied" in text
