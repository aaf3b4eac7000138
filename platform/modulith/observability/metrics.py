"""What the bus did, as metrics: Prometheus when prometheus-client (the [prometheus] extra) is
installed, served by `metrics_view` in the text exposition format (without it, /metrics
answers 404 with one line naming the extra); and, where `MODULITH_METRICS_EMF` is on (by default
on Lambda), as CloudWatch EMF lines under the same names (`modulith.observability.emf`).

Counters count what the bus did in this process: events published (committed to the outbox),
deliveries the relay handed over, retried or dead-lettered, and queue messages a consumer
finished with. Gauges are read from each running module's database at scrape time, so every
process running a module reports the same values: deliveries pending (the outbox lag), the age
of the oldest one, and dead letters. Several processes: see `modulith.observability.prometheus`.
"""

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_safe

from modulith.conf import extras
from modulith.observability import emf

PROMETHEUS = extras.installed(extras.PROMETHEUS)
if PROMETHEUS:
    from modulith.observability import prometheus

WITHOUT_PROMETHEUS = "metrics need prometheus-client: pip install 'django-modulith[prometheus]'\n"


class Instrument:
    """One metric, counted in prometheus-client when it is installed and as EMF when that is
    on (`modulith.observability.emf`), under the same name and labels."""

    def __init__(
        self, name: str, documentation: str, labels: list[str], *, gauge: bool, unit: str
    ) -> None:
        self.labelnames = tuple(labels)
        # Prometheus exposes a counter with the suffix _total: EMF names it the same.
        self.emf = emf.Metric(name if gauge else f"{name}_total", unit, gauge=gauge)
        self._prometheus: Any = None
        self._labelled: dict[tuple[str, ...], Labelled] = {}
        if PROMETHEUS:
            make = prometheus.gauge if gauge else prometheus.counter
            self._prometheus = make(name, documentation, labels)

    def labels(self, *values: str) -> "Labelled":
        # Made once per label values: a counter is counted on every event's way.
        labelled = self._labelled.get(values)
        if labelled is None:
            child = self._prometheus.labels(*values) if self._prometheus is not None else None
            labelled = Labelled(self, tuple(zip(self.labelnames, values, strict=True)), child)
            self._labelled[values] = labelled
        return labelled


class Labelled:
    """An instrument with its label values: `inc` for a counter, `set` for a gauge."""

    def __init__(self, instrument: Instrument, dimensions: emf.Dimensions, child: Any) -> None:
        self.instrument = instrument
        self.dimensions = dimensions
        self._child = child

    def inc(self, amount: float = 1) -> None:
        if self._child is not None:
            self._child.inc(amount)
        emf.RECORDER.add(self.instrument.emf, self.dimensions, amount)

    def set(self, value: float) -> None:
        if self._child is not None:
            self._child.set(value)
        emf.RECORDER.set(self.instrument.emf, self.dimensions, value)


def _counter(name: str, documentation: str, labels: list[str]) -> Instrument:
    return Instrument(name, documentation, labels, gauge=False, unit="Count")


def _gauge(name: str, documentation: str, labels: list[str]) -> Instrument:
    return Instrument(name, documentation, labels, gauge=True, unit="None")


EVENTS_PUBLISHED = _counter(
    "modulith_events_published",
    "Events committed to the outbox, by publishing module and event.",
    ["module", "event"],
)
EVENTS_DELIVERED = _counter(
    "modulith_events_delivered",
    "Deliveries the relay handed over, by publishing module and route.",
    ["module", "route"],
)
EVENTS_RETRIED = _counter(
    "modulith_events_retried",
    "Deliveries that failed and wait for another attempt, by publishing module and route.",
    ["module", "route"],
)
EVENTS_DEAD = _counter(
    "modulith_events_dead",
    "Deliveries parked as dead letters, by publishing module and route.",
    ["module", "route"],
)
MESSAGES_HANDLED = _counter(
    "modulith_messages_handled",
    "Queue messages a consumer finished with, by subscribing module and outcome "
    "(handled, duplicate, retried, dead).",
    ["module", "outcome"],
)
MESSAGES_DEAD_LETTERED = _counter(
    "modulith_messages_dead_lettered",
    "Queue messages a consumer sent to the dead-letter queue at once, by subscribing module and "
    "reason: malformed, oversized, too_deep, untrusted_source, not_handled, newer_version, "
    "invalid_data, claim_check_invalid, claim_check_mismatch, claim_check_missing, or handler "
    "(a handler's PermanentFailure).",
    ["module", "reason"],
)
DELIVERY_ERRORS = _counter(
    "modulith_delivery_errors",
    "Exceptions that escaped a delivery run off the request (thread, celery) or a sweep of the "
    "embedded relay, by module and executor; the deliveries wait for the next sweep.",
    ["module", "executor"],
)
ROUTE_DOWN = _gauge(
    "modulith_route_down",
    "1 while the relay cannot reach a route (its events wait in the outbox), else 0.",
    ["transport", "route"],
)
ROUTE_OUTAGES = _counter(
    "modulith_route_outages",
    "Times a route went down (the relay could not reach it as a whole), by transport and route.",
    ["transport", "route"],
)
CLAIMS_LOST = _counter(
    "modulith_claims_lost",
    "Outcomes not recorded because the relay no longer held the delivery's claim (it lapsed "
    "and another relay took the delivery), by module and route.",
    ["module", "route"],
)
CONSUMER_PAUSED = _gauge(
    "modulith_consumer_paused",
    "1 while a module's consumer has paused its queue because a dependency is unavailable.",
    ["module"],
)


@require_safe
def metrics_view(request: HttpRequest) -> HttpResponse:
    """/metrics, for Prometheus: mounted by the project, never under the public /api/."""
    if not PROMETHEUS:
        return HttpResponse(WITHOUT_PROMETHEUS, status=404, content_type="text/plain")
    return prometheus.exposition(request)
