"""How an event's data moves between its major versions, and the names it had.

A subscriber reads an event of an older major version through the contract's upcasters, one
step a version (v1 -> v2 -> v3), before validating it, so its handlers see only the current
version; a producer publishing an older version (`MODULITH_PUBLISH_VERSIONS`) writes it
through the downcasters. Where a step is missing there is no way between the two versions: a
`VersionGap`, which a subscriber dead-letters with its reason and which the system checks and
`contracts check` report before anything runs.
"""

from typing import Any

from modulith.contracts.base import Converter, Event

EventType = type[Event]


class VersionGap(ValueError):
    """No chain of upcasters (or downcasters) leads from one version of an event to another."""


def major_of(version: str) -> int | None:
    """The major number of "MAJOR.MINOR", or None when it is not one."""
    major = version.split(".", 1)[0]
    if not (major.isascii() and major.isdigit() and len(major) <= 6):
        return None
    return int(major)


def current_major(event_type: EventType) -> int:
    major = major_of(event_type.schema_version)
    if major is None:
        raise ValueError(f"{event_type.event_name} schema version is not MAJOR.MINOR")
    return major


def upcast(event_type: EventType, data: dict[str, Any], *, from_major: int) -> dict[str, Any]:
    """The data of version `from_major` as the current version's."""
    target = current_major(event_type)
    for version in range(from_major, target):
        data = _step(event_type, "upcasters", version, from_major, target)(data)
    return data


def downcast(event_type: EventType, data: dict[str, Any], *, to_major: int) -> dict[str, Any]:
    """The current version's data as that of version `to_major`."""
    current = current_major(event_type)
    for version in range(current - 1, to_major - 1, -1):
        data = _step(event_type, "downcasters", version, current, to_major)(data)
    return data


def _step(event_type: EventType, kind: str, version: int, start: int, end: int) -> Converter:
    steps: dict[int, Converter] = dict(getattr(event_type, kind))
    step = steps.get(version)
    if step is None:
        low, high = sorted((start, end))
        raise VersionGap(
            f"{event_type.event_name} has no {kind[:-1]} between versions {version} and "
            f"{version + 1}, so its version {start} cannot become version {end} "
            f"(declare {kind}[{version}] on {event_type.__name__}; versions {low} to {high})"
        )
    return step


def names_of(event_type: type[Any]) -> tuple[str, ...]:
    """An event's name, then the names it had before (`former_names`)."""
    return (event_type.event_name, *getattr(event_type, "former_names", ()))


def answers_to(event_type: type[Any], event_name: str) -> bool:
    """Whether the event is the one of this name, now or before."""
    return event_name in names_of(event_type)


def name_at(event_type: EventType, major: int) -> str:
    """The name the event had at that major version: the former name that lasted up to it (the
    earliest of them), else its current name."""
    lasted = [(last, name) for name, last in event_type.former_names.items() if last >= major]
    return min(lasted)[1] if lasted else event_type.event_name


def readable_from(event_type: EventType) -> int:
    """The oldest major version a subscriber reads: from there the upcasters lead, step by
    step, to the current one."""
    version = current_major(event_type)
    while version - 1 in event_type.upcasters:
        version -= 1
    return version


def evolution_problems(event_type: EventType) -> list[str]:
    """What is wrong with the event's declared evolution, one line each: a chain with a gap, a
    step from or to a version that cannot exist, a former name that is no name."""
    name = event_type.event_name
    current = major_of(event_type.schema_version)
    if current is None:
        return [f"{name}: schema version {event_type.schema_version!r} is not MAJOR.MINOR"]
    label = f"{name} {event_type.schema_version}"
    problems = [
        f"{label}: {kind}[{version!r}] is no step between two versions before the current "
        f"one (steps are keyed by the older version, 1 to {current - 1})"
        for kind in ("upcasters", "downcasters")
        for version in getattr(event_type, kind)
        if not (isinstance(version, int) and 1 <= version < current)
    ]
    problems += [
        f"{label}: {kind}[{version}] is not a function"
        for kind in ("upcasters", "downcasters")
        for version, step in getattr(event_type, kind).items()
        if not callable(step)
    ]
    for kind, effect in (
        ("upcasters", "version {low} cannot be read as version {current}"),
        ("downcasters", "version {current} cannot be published as version {low}"),
    ):
        steps = {v for v in getattr(event_type, kind) if isinstance(v, int) and 0 < v < current}
        low = min(steps, default=current)
        problems += [
            f"{label}: {kind} has a gap between versions {gap} and {gap + 1}, so "
            + effect.format(low=low, current=current)
            + f" (declare {kind}[{gap}])"
            for gap in range(low, current)
            if gap not in steps
        ]
    for former, last in event_type.former_names.items():
        if not (isinstance(former, str) and former and former != name):
            problems.append(f"{label}: former name {former!r} is not another name")
        elif not (isinstance(last, int) and 1 <= last < current):
            problems.append(
                f"{label}: former name {former} must map to the last major version published "
                f"under it, 1 to {current - 1} (a rename takes a new major version)"
            )
    return problems


def unchanged(data: dict[str, Any]) -> dict[str, Any]:
    """A step between two versions whose data has the same shape: the newer one only narrowed
    what is valid (an older event the newer schema refuses is dead-lettered with the reason)."""
    return data
