"""Handlers for the tests of concurrency limits, named by dotted path in a topology the tests
build: a slow one that holds each delivery until the test opens its gate, and a quick one;
both count how many of their deliveries run at once."""

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from modulith.modules import Handler, Module, Topology

HOLD_SECONDS = 20  # the longest a slow delivery waits for the gate: a test's bound


class Runs:
    """How many deliveries of each handler ran, and the most that ever ran at once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.now: Counter[str] = Counter()
        self.most: Counter[str] = Counter()
        self.done: Counter[str] = Counter()
        self.gate = threading.Event()

    @contextmanager
    def running(self, name: str) -> Iterator[None]:
        with self._lock:
            self.now[name] += 1
            self.most[name] = max(self.most[name], self.now[name])
        try:
            yield
        finally:
            with self._lock:
                self.now[name] -= 1
                self.done[name] += 1


RUNS = Runs()


def slow(event: Any) -> None:
    with RUNS.running("slow"):
        RUNS.gate.wait(HOLD_SECONDS)


def quick(event: Any) -> None:
    with RUNS.running("quick"):
        pass


SLOW = "tests.modulith.bus.limited_handlers.slow"
QUICK = "tests.modulith.bus.limited_handlers.quick"


def limited(project: Topology, concurrency: int = 1) -> Topology:
    """The project's modules, payments handling StockReserved with the slow handler (at most
    `concurrency` at once) and inventory OrderPlaced with the quick one; all running."""
    modules: list[Module] = []
    for module in project.modules:
        if module.name == "payments":
            module = _handling(module, "StockReserved", Handler(SLOW, concurrency=concurrency))
        elif module.name == "inventory":
            module = _handling(module, "OrderPlaced", QUICK)
        modules.append(module)
    return Topology(modules=tuple(modules), running=frozenset(m.name for m in modules))


def _handling(module: Module, event_name: str, handler: str | Handler) -> Module:
    handles = {
        event_type: handler if event_type.event_name == event_name else paths
        for event_type, paths in module.handles.items()
    }
    return replace(module, handles=handles)
