"""The framework's metrics as CloudWatch Embedded Metric Format (EMF) lines on standard output,
which CloudWatch Logs turns into metrics: no agent, no API call, nothing to scrape. On by
default on Lambda (a function cannot be scraped), where each invocation ends with its lines;
elsewhere (`MODULITH_METRICS_EMF=1`, as the ECS stacks set it) a thread writes them every
`MODULITH_METRICS_EMF_INTERVAL` seconds, with the outbox gauges of the running modules.

The names and dimensions are Prometheus's (`modulith_events_published_total` by `module` and
`event`), in the namespace `Modulith`. A counter's value is what it counted since the last
line; a gauge's is its last value, written again with every flush so an alarm never lacks
data while the process runs. Values whose dimensions agree share a line: an invocation that
touched one module and one event writes one line.

The format: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/
CloudWatch_Embedded_Metric_Format_Specification.html
"""

import json
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from modulith.observability import outbox_gauges

NAMESPACE = "Modulith"
# CloudWatch's limit on the metrics of one directive.
MAX_METRICS = 100

Dimensions = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Metric:
    name: str
    unit: str
    gauge: bool


@dataclass
class _Document:
    root: dict[str, str]
    values: dict[Metric, tuple[Dimensions, float]] = field(default_factory=dict)

    def takes(self, metric: Metric, dimensions: Dimensions) -> bool:
        return metric not in self.values and all(
            self.root.get(key, value) == value for key, value in dimensions
        )


class Recorder:
    """What the instruments recorded since the last flush, in this process."""

    def __init__(self) -> None:
        self.enabled = False
        self._lock = threading.Lock()
        self._counts: dict[tuple[Metric, Dimensions], float] = {}
        self._gauges: dict[tuple[Metric, Dimensions], float] = {}

    def add(self, metric: Metric, dimensions: Dimensions, amount: float) -> None:
        if self.enabled:
            with self._lock:
                key = (metric, dimensions)
                self._counts[key] = self._counts.get(key, 0.0) + amount

    def set(self, metric: Metric, dimensions: Dimensions, value: float) -> None:
        if self.enabled:
            with self._lock:
                self._gauges[(metric, dimensions)] = value

    def clear(self) -> None:
        with self._lock:
            self._counts.clear()
            self._gauges.clear()

    def documents(self, timestamp_ms: int) -> list[dict[str, object]]:
        """Every value as EMF documents, as few as their dimensions allow; the counts start
        again from zero."""
        with self._lock:
            values = sorted(
                [*self._counts.items(), *self._gauges.items()],
                key=lambda item: (item[0][0].name, item[0][1]),
            )
            self._counts.clear()
        documents: list[_Document] = []
        for (metric, dimensions), value in values:
            document = next((d for d in documents if d.takes(metric, dimensions)), None)
            if document is None:
                document = _Document(root={})
                documents.append(document)
            document.root.update(dimensions)
            document.values[metric] = (dimensions, value)
        return [_emf(document, timestamp_ms) for document in documents]

    def flush(self, write: Callable[[str], None] | None = None) -> int:
        """Writes the documents, one line each; returns how many."""
        lines = [
            json.dumps(document, separators=(",", ":"))
            for document in self.documents(int(time.time() * 1000))
        ]
        for line in lines:
            (write or _stdout)(line)
        return len(lines)


def _emf(document: _Document, timestamp_ms: int) -> dict[str, object]:
    directives: dict[tuple[str, ...], list[Metric]] = {}
    for metric, (dimensions, _) in document.values.items():
        directives.setdefault(tuple(key for key, _ in dimensions), []).append(metric)
    return {
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [
                {
                    "Namespace": NAMESPACE,
                    "Dimensions": [list(keys)],
                    "Metrics": [{"Name": m.name, "Unit": m.unit} for m in chunk],
                }
                for keys, metrics in directives.items()
                for chunk in _chunks(metrics, MAX_METRICS)
            ],
        },
        **document.root,
        **{metric.name: value for metric, (_, value) in document.values.items()},
    }


def _chunks(metrics: list[Metric], size: int) -> Iterable[list[Metric]]:
    for start in range(0, len(metrics), size):
        yield metrics[start : start + size]


def _stdout(line: str) -> None:
    # One write a line: lines of several processes on one pipe never interleave (PIPE_BUF).
    os.write(1, (line + "\n").encode())


RECORDER = Recorder()

OUTBOX_PENDING = Metric("modulith_outbox_pending", "Count", gauge=True)
OUTBOX_OLDEST_AGE = Metric("modulith_outbox_oldest_pending_age_seconds", "Seconds", gauge=True)
DEAD_LETTERS = Metric("modulith_dead_letters", "Count", gauge=True)
SCHEDULED = Metric("modulith_outbox_scheduled", "Count", gauge=True)
SCHEDULED_LATENESS = Metric("modulith_outbox_scheduled_lateness_seconds", "Seconds", gauge=True)


def record_outbox() -> None:
    """The outbox gauges of the modules running here, read from their databases now."""
    for reading in outbox_gauges.read():
        dimensions = (("module", reading.module),)
        RECORDER.set(OUTBOX_PENDING, dimensions, reading.pending)
        RECORDER.set(OUTBOX_OLDEST_AGE, dimensions, reading.oldest_age_seconds)
        RECORDER.set(DEAD_LETTERS, dimensions, reading.dead)
        RECORDER.set(SCHEDULED, dimensions, reading.scheduled)
        RECORDER.set(SCHEDULED_LATENESS, dimensions, reading.scheduled_lateness_seconds)


class _Periodic:
    """Flushes every `interval` seconds on a daemon thread, with the outbox gauges."""

    def __init__(self) -> None:
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def start(self, interval: float) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, args=(interval,), name="modulith-emf", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._thread = None

    def _run(self, interval: float) -> None:
        while not self._stop.wait(interval):
            record_outbox()
            RECORDER.flush()


_periodic = _Periodic()


def configure(*, enabled: bool, interval: float | None) -> None:
    """Switches EMF on or off for this process; with an interval, flushes on a thread of its
    own (a Lambda function flushes at the end of each invocation instead)."""
    _periodic.stop()
    RECORDER.clear()
    RECORDER.enabled = enabled
    if enabled and interval is not None:
        _periodic.start(interval)


def enabled() -> bool:
    return RECORDER.enabled


def flush(write: Callable[[str], None] | None = None) -> int:
    return RECORDER.flush(write)


def dimensions(labels: Mapping[str, str]) -> Dimensions:
    return tuple(labels.items())
