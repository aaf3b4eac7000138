"""A request to scaffold a module, checked against the application."""

import keyword
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from modulith.modules import Topology
from modulith.scaffold.errors import ScaffoldError
from modulith.scaffold.names import Names, default_model

# Long enough for real names, short enough for the generated lines to fit in LINE_LENGTH.
MAX_NAME_LENGTH = 16
MAX_MODEL_LENGTH = 20
MODULE_NAME = re.compile(r"[a-z][a-z0-9]*(_[a-z0-9]+)*")
MODEL_NAME = re.compile(r"[A-Z][A-Za-z0-9]*")
# Names a module cannot take: its name is also a package, an app label and a database alias.
RESERVED = frozenset({"config", "contracts", "default", "modules", "modulith", "platform", "tests"})


@dataclass(frozen=True)
class Plan:
    """A checked request: what to create, and the events its handlers subscribe to; where: the
    module's package (`modules.shipping` in the shop's layout, `shipping` beside the project's
    other apps) and its tests' directory."""

    names: Names
    handles: tuple[type[Any], ...]
    package: str = ""
    tests: str = ""
    database: str = ""  # the alias it lives in; its own (its name) unless one is named

    def __post_init__(self) -> None:
        if not self.database:
            object.__setattr__(self, "database", self.names.name)
        if not self.package:
            object.__setattr__(self, "package", f"modules.{self.names.name}")
        if not self.tests:
            object.__setattr__(self, "tests", f"tests/modules/{self.names.name}")

    @property
    def directory(self) -> str:
        return self.package.replace(".", "/")

    @property
    def manifest(self) -> str:
        return f"{self.package}.module.manifest"


def plan(
    name: str,
    *,
    model: str | None,
    handles: Sequence[str],
    topology: Topology,
    taken: Sequence[str] = (),
    package: str = "",
    tests: str = "",
    database: str = "",
) -> Plan:
    """Checks the request against the application; `taken` are app labels already in use."""
    check_name(name, topology)
    if name in taken:
        raise ScaffoldError(
            f"{name!r} is the label of one of the project's apps: to make that app a module, "
            f"run startmodule {name} without --model and --handles"
        )
    names = Names(name=name, model=_checked_model(model or default_model(name)))
    if topology.event_type(names.created) is not None:
        raise ScaffoldError(
            f"{names.created} is already published by {topology.publisher_of(names.created).name}"
            ": choose another model name with --model"
        )
    return Plan(
        names=names,
        handles=_handled_events(handles, topology),
        package=package,
        tests=tests,
        database=database,
    )


def check_name(name: str, topology: Topology) -> None:
    """A name a module can take: also a package, an app label and a database alias."""
    if not MODULE_NAME.fullmatch(name) or keyword.iskeyword(name):
        raise ScaffoldError(
            f"{name!r} is not a module name: use lowercase letters, digits and single "
            "underscores, starting with a letter (e.g. shipping)"
        )
    if len(name) > MAX_NAME_LENGTH:
        raise ScaffoldError(f"{name!r} is too long: use at most {MAX_NAME_LENGTH} characters")
    if name in {module.name for module in topology.modules}:
        raise ScaffoldError(f"a module named {name!r} already exists: choose another name")
    if name in RESERVED:
        raise ScaffoldError(f"{name!r} is already used by the project or Django: choose another")


def _checked_model(model: str) -> str:
    if not MODEL_NAME.fullmatch(model) or len(model) > MAX_MODEL_LENGTH:
        raise ScaffoldError(
            f"--model {model!r} is not a model name: use a class name of at most "
            f"{MAX_MODEL_LENGTH} characters (e.g. Shipment)"
        )
    return model


def _handled_events(handles: Sequence[str], topology: Topology) -> tuple[type[Any], ...]:
    events = []
    for event_name in dict.fromkeys(handles):
        event_type = topology.event_type(event_name)
        if event_type is None:
            known = ", ".join(sorted(e.event_name for m in topology.modules for e in m.publishes))
            raise ScaffoldError(f"no module publishes {event_name!r}; known events: {known}")
        events.append(event_type)
    return tuple(events)
