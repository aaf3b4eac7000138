"""Routes that cannot be reached: backed off as a whole, never at the events' expense.

A transport that refuses connections, times out or throttles, and a subscriber whose
database or provider is down, say nothing about the events waiting for them. The relay
therefore keeps one breaker per route: the first whole-route failure opens it (one log line,
a gauge at 1); while it is open, the route's deliveries wait, attempts untouched, until the
next probe, which comes after a capped exponential backoff with jitter; the first success
closes it (one log line with how long the route was down). An outage of any length delays
events; it never dead-letters them.
"""

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime

from django.utils import timezone

from modulith.observability.metrics import ROUTE_DOWN, ROUTE_OUTAGES
from modulith.outbox.retry import RetryPolicy

log = logging.getLogger(__name__)


@dataclass
class _Outage:
    since: float  # monotonic
    failures: int = 0
    probe_at: datetime = field(default_factory=timezone.now)
    reason: str = ""


@dataclass
class RouteBreaker:
    """Per route of one transport: closed (send), or open until its next probe."""

    transport: str
    # Between probes: capped exponential backoff with jitter, from half a second.
    backoff: RetryPolicy = field(
        default_factory=lambda: RetryPolicy(base_seconds=0.5, max_seconds=30.0)
    )
    _outages: dict[str, _Outage] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def waiting_until(self, route: str) -> datetime | None:
        """When the route may be tried again, if it is down and that time has not come; None
        when it may be tried now (it is up, or a probe is due)."""
        with self._lock:
            outage = self._outages.get(route)
            if outage is None or timezone.now() >= outage.probe_at:
                return None
            return outage.probe_at

    def failed(self, route: str, reason: str) -> datetime:
        """The route failed as a whole: opens (or keeps open) its breaker; returns the time of
        the next probe, when the waiting deliveries are due again."""
        with self._lock:
            outage = self._outages.get(route)
            opened = outage is None
            if outage is None:
                outage = self._outages[route] = _Outage(since=time.monotonic())
            outage.failures += 1
            outage.reason = reason
            outage.probe_at = timezone.now() + self.backoff.delay(outage.failures)
            probe_at = outage.probe_at
        if opened:
            ROUTE_DOWN.labels(self.transport, route).set(1)
            ROUTE_OUTAGES.labels(self.transport, route).inc()
            log.error(
                "route down: %s cannot reach %s (%s); its events wait in the outbox",
                self.transport,
                route,
                reason,
                extra={"route": route, "transport": self.transport},
            )
        return probe_at

    def probe_now(self) -> None:
        """Every route that is down gets its next probe at once, its backoff cut short: what
        a test says instead of waiting it out (`modulith.testing.make_due`). The outage, and
        how many probes failed, stay as they were."""
        with self._lock:
            now = timezone.now()
            for outage in self._outages.values():
                outage.probe_at = min(outage.probe_at, now)

    def succeeded(self, route: str) -> None:
        with self._lock:
            outage = self._outages.pop(route, None)
        if outage is None:
            return
        ROUTE_DOWN.labels(self.transport, route).set(0)
        down_for = time.monotonic() - outage.since
        log.warning(
            "route back: %s reaches %s again after %.1f s down (%d failed tries)",
            self.transport,
            route,
            down_for,
            outage.failures,
            extra={"route": route, "transport": self.transport, "down_seconds": round(down_for, 1)},
        )
