"""What a scenario's bus has in flight: the deliveries scheduled after a commit and not yet
handed to their module, and the failures of those that were. A wait wakes at each hand-over,
so it waits on the delivery threads themselves, never for a guessed time."""

import threading
import time
from collections.abc import Callable, Sequence
from typing import TypeVar
from uuid import UUID

from modulith.bus import Envelope
from modulith.bus.publisher import Executor
from modulith.database.store.models import Delivery
from modulith.transports.transport import Outcome

T = TypeVar("T")


class Activity:
    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._changes = 0
        # (event id, route) -> deliveries on their way, with the event's name for messages
        self._in_flight: dict[tuple[UUID, str], int] = {}
        self._names: dict[UUID, str] = {}
        self.failures: list[str] = []

    def tracking(self, executor: Executor) -> Executor:
        """`executor`, with what it is given counted as in flight until it is handed over."""
        return _Tracked(self, executor)

    def scheduled(self, alias: str, deliveries: list[Delivery], all_stored: bool) -> None:
        """These deliveries were committed and handed to the executor."""
        # Deliveries of a rolled-back savepoint were never stored: nothing will send them.
        stored = deliveries if all_stored else _stored(alias, deliveries)
        with self._changed:
            for delivery in stored:
                key = (delivery.event_id, delivery.route)
                self._in_flight[key] = self._in_flight.get(key, 0) + 1
                self._names[delivery.event_id] = delivery.event.event_name

    def handed_over(
        self, route: str, envelopes: Sequence[Envelope], outcomes: Sequence[Outcome]
    ) -> None:
        """The transport handed these events to `route`'s module, with these outcomes."""
        with self._changed:
            for envelope, outcome in zip(envelopes, outcomes, strict=True):
                key = (envelope.event_id, route)
                if self._in_flight.get(key, 0) > 1:
                    self._in_flight[key] -= 1
                else:
                    self._in_flight.pop(key, None)
                if not outcome.ok:
                    self.failures.append(
                        f"{route} failed on {envelope.event_name} {envelope.event_id}: "
                        f"{outcome.error}"
                    )
            self._changes += 1
            self._changed.notify_all()

    @property
    def in_flight(self) -> list[str]:
        """What is still on its way, as `<event> to <module>`."""
        with self._changed:
            return [f"{self._names[event_id]} to {route}" for event_id, route in self._in_flight]

    def wait(self, found: Callable[[], T | None], timeout: float) -> T | None:
        """The first answer of `found` that is not None, asked again at each hand-over; None
        once nothing left in flight could change its answer, or after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            with self._changed:
                seen, quiet = self._changes, not self._in_flight
            answer = found()
            if answer is not None or quiet:
                return answer
            if not self._wait_for_change(seen, deadline - time.monotonic()):
                return found()

    def _wait_for_change(self, seen: int, timeout: float) -> bool:
        with self._changed:
            return timeout > 0 and self._changed.wait_for(
                lambda: self._changes != seen, timeout=timeout
            )

    def wait_until_quiet(self, timeout: float) -> bool:
        """Whether everything in flight was handed over within `timeout` seconds."""
        self.wait(lambda: None, timeout)
        with self._changed:
            return not self._in_flight


class _Tracked:
    """An executor whose deliveries the activity counts in flight as they are handed to it."""

    def __init__(self, activity: Activity, executor: Executor) -> None:
        self.name = executor.name
        self.claim = executor.claim
        self._activity = activity
        self._executor = executor

    def after_commit(self, alias: str, deliveries: list[Delivery], *, all_stored: bool) -> None:
        self._activity.scheduled(alias, deliveries, all_stored)
        self._executor.after_commit(alias, deliveries, all_stored=all_stored)


def _stored(alias: str, deliveries: list[Delivery]) -> list[Delivery]:
    ids = set(
        Delivery.objects.using(alias)
        .filter(pk__in=[delivery.pk for delivery in deliveries])
        .values_list("pk", flat=True)
    )
    return [delivery for delivery in deliveries if delivery.pk in ids]
