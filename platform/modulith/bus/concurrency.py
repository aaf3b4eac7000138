"""How many deliveries of a handler run at once in this process: the slots of the handlers
whose manifest declares a `concurrency` (`modulith.Handler`).

A delivery takes a slot of each limited handler it runs, all or none, without waiting: one
that finds a slot taken is not started (`Outcome.busy`), so it holds no thread while it waits,
and the others' deliveries go on. Whoever delivers it puts it back for later (the relay in the
outbox, due again; a queue consumer keeps the message hidden and waits for a release).
"""

import threading
from collections import Counter
from collections.abc import Iterable, Mapping


class HandlerSlots:
    def __init__(self, limits: Mapping[str, int]) -> None:
        self.limits = dict(limits)
        self._running: Counter[str] = Counter()
        self._released = threading.Condition()

    def limited(self, paths: Iterable[str]) -> tuple[str, ...]:
        """Those of the handlers that have a limit."""
        return tuple(path for path in paths if path in self.limits)

    def take(self, paths: tuple[str, ...]) -> bool:
        """A slot of each of these limited handlers, or none when one of them is full."""
        with self._released:
            if any(self._running[path] >= self.limits[path] for path in paths):
                return False
            self._running.update(paths)
            return True

    def give_back(self, paths: tuple[str, ...]) -> None:
        with self._released:
            self._running.subtract(paths)
            self._released.notify_all()

    def wait_for_release(self, timeout: float) -> bool:
        """Waits until some delivery gives its slots back, for at most `timeout` seconds."""
        with self._released:
            return self._released.wait(timeout)
