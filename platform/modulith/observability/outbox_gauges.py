"""The outbox gauges of the modules running here, read from their databases when asked (a
Prometheus scrape, an EMF flush): pending deliveries, the age of the oldest, dead letters."""

import logging
from collections.abc import Iterator
from dataclasses import dataclass

from django.db import DatabaseError
from django.utils import timezone

from modulith.observability import process

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reading:
    module: str
    pending: int
    oldest_age_seconds: float  # 0 when nothing is pending
    dead: int


def read() -> Iterator[Reading]:
    """One reading per running module whose database answers (the others are logged)."""
    now = timezone.now()
    described = process.current()
    for module in described.running:
        try:
            state = described.outbox_state(module.database)
        except DatabaseError as error:
            log.warning("no outbox metrics for %s: %s", module.name, error)
            continue
        since = state.oldest_pending
        age = (now - since).total_seconds() if since else 0.0
        yield Reading(module.name, state.pending, age, state.dead)
