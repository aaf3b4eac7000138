"""Waiting for an event a scenario's modules publish, and saying why it did not come: what was
still in flight, what was published instead, which deliveries failed."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast
from uuid import UUID

from modulith.modules import Topology
from modulith.testing.activity import Activity
from modulith.testing.published import (
    check_published_here,
    described,
    event_name,
    published_since,
)

E = TypeVar("E")

DEFAULT_TIMEOUT = 5.0  # seconds


@dataclass(frozen=True)
class Baseline:
    """Where a wait starts: what had been published and had failed by then, and why."""

    events: frozenset[UUID]
    failures: int
    cause: str  # e.g. "after OrderPlaced was delivered to inventory"


def wait_for_event(
    topology: Topology,
    activity: Activity,
    event_type: type[E],
    matching: Callable[[E], bool] | None,
    timeout: float,
    since: Baseline,
) -> E:
    """The first event of `event_type` that `matching` accepts, published since `since`."""
    check_published_here(topology, event_type)
    name = event_name(event_type)

    def found() -> E | None:
        for event in published_since(topology, since.events):
            if event.event_name == name and (matching is None or matching(event)):
                return cast(E, event)
        return None

    event = activity.wait(found, timeout)
    if event is None:
        raise AssertionError(_report(topology, activity, event_type, matching, timeout, since))
    return event


def _report(
    topology: Topology,
    activity: Activity,
    event_type: type[Any],
    matching: Callable[[Any], bool] | None,
    timeout: float,
    since: Baseline,
) -> str:
    what = event_name(event_type)
    if matching is not None:
        what += f" matching {getattr(matching, '__name__', repr(matching))}"
    in_flight = activity.in_flight
    if in_flight:
        why = f"within {timeout} s {since.cause}; still in flight: {', '.join(in_flight)}"
    else:
        why = f"{since.cause}, and nothing left in flight could publish one"
    lines = [f"no {what} was published {why}."]
    published = [described(event) for event in published_since(topology, since.events)]
    if published:
        lines += ["Published instead:", *(f"  {line}" for line in published)]
    else:
        lines.append("Nothing was published.")
    failures = activity.failures[since.failures :]
    if failures:
        lines += ["Failed deliveries:", *(f"  {failure}" for failure in failures)]
    return "\n".join(lines)
