"""The metrics in prometheus-client (the [prometheus] extra): its counters and gauges, the
outbox gauges read from the databases at scrape time, and the exposition `/metrics` serves.

Several worker processes (gunicorn --workers N): each counts on its own, and a scrape reaches
one of them. Set PROMETHEUS_MULTIPROC_DIR to an empty directory before the processes start
(prometheus-client's multiprocess mode): the counters of every process are then added up at
each scrape. The gauges need nothing: they are read from the databases.
"""

import os
import threading
from collections.abc import Iterable

from django.http import HttpRequest, HttpResponse
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import Metric

from modulith.conf import modulith_settings
from modulith.observability import outbox_gauges


def counter(name: str, documentation: str, labels: list[str]) -> Counter:
    return Counter(name, documentation, labels)


def gauge(name: str, documentation: str, labels: list[str]) -> Gauge:
    """A gauge that, in multiprocess mode, reports the highest value of the live processes."""
    return Gauge(name, documentation, labels, multiprocess_mode="livemax")


class OutboxCollector:
    """Gauges of every running module's outbox, read from its database by a scrape at most
    once every MODULITH_METRICS_CACHE_SECONDS (`outbox_gauges`)."""

    def describe(self) -> Iterable[Metric]:
        return _families()

    def collect(self) -> Iterable[Metric]:
        pending, oldest, dead, scheduled, lateness = families = _families()
        for reading in outbox_gauges.read(max_age=modulith_settings().metrics_cache_seconds):
            pending.add_metric([reading.module], reading.pending)
            oldest.add_metric([reading.module], reading.oldest_age_seconds)
            dead.add_metric([reading.module], reading.dead)
            scheduled.add_metric([reading.module], reading.scheduled)
            lateness.add_metric([reading.module], reading.scheduled_lateness_seconds)
        return list(families)


def _families() -> tuple[GaugeMetricFamily, ...]:
    return (
        GaugeMetricFamily(
            "modulith_outbox_pending",
            "Deliveries due and not yet delivered (the outbox lag), by module.",
            labels=["module"],
        ),
        GaugeMetricFamily(
            "modulith_outbox_oldest_pending_age_seconds",
            "How long the oldest event with a pending delivery has been due (since it was "
            "published, or scheduled for), by module (0 when none).",
            labels=["module"],
        ),
        GaugeMetricFamily(
            "modulith_dead_letters",
            "Deliveries parked as dead letters, by module.",
            labels=["module"],
        ),
        GaugeMetricFamily(
            "modulith_outbox_scheduled",
            "Scheduled events not due yet, by module.",
            labels=["module"],
        ),
        GaugeMetricFamily(
            "modulith_outbox_scheduled_lateness_seconds",
            "How long past its time the longest-due undelivered scheduled event is, by module "
            "(0 when none).",
            labels=["module"],
        ),
    )


_outbox = OutboxCollector()
_lock = threading.Lock()
_registry: CollectorRegistry | None = None


def registry() -> CollectorRegistry:
    """The registry a scrape reads: this process's counters (or, in multiprocess mode, every
    process's), and the outbox gauges."""
    global _registry
    with _lock:
        if _registry is None:
            if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
                combined = CollectorRegistry()
                multiprocess.MultiProcessCollector(combined)  # type: ignore[no-untyped-call]
                combined.register(_outbox)
                _registry = combined
            else:
                REGISTRY.register(_outbox)
                _registry = REGISTRY
        return _registry


def exposition(request: HttpRequest) -> HttpResponse:
    """Every metric, in the format the scraper asks for."""
    encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
    return HttpResponse(encoder(registry()), content_type=content_type)
