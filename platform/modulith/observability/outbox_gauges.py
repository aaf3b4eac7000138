"""The outbox gauges of the modules running here, read from their databases when asked (a
Prometheus scrape, an EMF flush): pending deliveries, the age of the oldest, dead letters,
scheduled events not due yet, and how late the longest-due scheduled one is.

A caller may accept a state read up to `max_age` seconds ago: however often, and by however
many scrapers, /metrics is asked, a process then queries each database once an interval. The
age of the oldest pending event is computed at each reading, from when it was due (stored, or
scheduled for), and so is the lateness of the scheduled one."""

import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from django.db import DatabaseError
from django.utils import timezone

from modulith.modules import Module
from modulith.observability import process
from modulith.observability.process import OutboxState, Process

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reading:
    module: str
    pending: int
    oldest_age_seconds: float  # 0 when nothing is pending
    dead: int
    scheduled: int
    scheduled_lateness_seconds: float  # 0 when no scheduled event is due and undelivered


def read(*, max_age: float = 0.0) -> Iterator[Reading]:
    """One reading per running module whose database answers (the others are logged)."""
    now = timezone.now()
    described = process.current()
    for module in described.running:
        state = _states.get(described, module, max_age)
        if state is None:
            continue
        yield Reading(
            module.name,
            state.pending,
            _seconds_since(state.oldest_pending, now),
            state.dead,
            state.scheduled,
            _seconds_since(state.oldest_due_scheduled, now),
        )


def _seconds_since(moment: datetime | None, now: datetime) -> float:
    return max((now - moment).total_seconds(), 0.0) if moment else 0.0


class _States:
    """The outbox states last read, by module (modules that share a database each have their
    own rows there), for the process as described when they were read (a new description
    starts afresh); a database that could not be read is not asked again sooner either."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._described: Process | None = None
        self._read: dict[str, tuple[float, OutboxState | None]] = {}

    def get(self, described: Process, module: Module, max_age: float) -> OutboxState | None:
        with self._lock:
            if described is not self._described:
                self._read.clear()
                self._described = described
            read_at, state = self._read.get(module.name, (float("-inf"), None))
            if time.monotonic() - read_at < max_age:
                return state
            try:
                state = described.outbox_state(module)
            except DatabaseError as error:
                log.warning("no outbox metrics for %s: %s", module.name, error)
                state = None
            self._read[module.name] = (time.monotonic(), state)
            return state


_states = _States()
