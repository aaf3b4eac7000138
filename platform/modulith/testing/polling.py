"""Waiting for a fact: a state is observed again and again until it is the one awaited, within
a deadline; when it does not come, the failure says what was awaited and what was last seen.

What a test would otherwise wait for by the wall clock is stated instead (`modulith.testing.
clock`: a claim lapses, a delivery is due); what it must see happen elsewhere (a process, a
queue, a thread) it polls for with this. A scenario's events are awaited with the scenario's
own waits, which wake at each hand-over rather than poll.

Imports only the standard library: a pytest plugin is imported before Django is set up, and a
test may poll a process or a socket without any database.
"""

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

DEFAULT_TIMEOUT = 5.0  # seconds
DEFAULT_INTERVAL = 0.02  # seconds between two observations
MOST_SHOWN = 2000  # characters of what was last seen, in a failure's message


class NotReached(AssertionError):
    """What a test awaited did not come within its deadline."""


def wait_until(
    observe: Callable[[], T],
    until: Callable[[T], object] = bool,
    *,
    awaiting: str,
    timeout: float = DEFAULT_TIMEOUT,
    interval: float = DEFAULT_INTERVAL,
    ignoring: type[Exception] | tuple[type[Exception], ...] = (),
    details: Callable[[], object] | None = None,
) -> T:
    """Observes (`observe()`) until `until` accepts what it saw (by default: until it is
    truthy), and returns that; raises `NotReached` once `timeout` seconds have passed, naming
    what was `awaiting` and what was last seen, followed by `details()` if given (a process's
    output, say).

    An exception raised by `observe` fails the wait at once (a process that exited, a wrong
    answer), unless it is one of `ignoring` (a server not listening yet): then it is what was
    last seen, and the wait goes on."""
    __tracebackhide__ = True  # pytest shows the test's line, not this loop
    deadline = time.monotonic() + timeout
    while True:
        last: object
        try:
            seen = observe()
        except ignoring as error:
            last = error
        else:
            if until(seen):
                return seen
            last = seen
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise NotReached(_message(awaiting, timeout, last, details))
        time.sleep(min(interval, remaining))


def _message(
    awaiting: str, timeout: float, last: object, details: Callable[[], object] | None
) -> str:
    seen = f"raised {last!r}" if isinstance(last, Exception) else repr(last)
    if len(seen) > MOST_SHOWN:
        seen = f"{seen[:MOST_SHOWN]}... ({len(seen)} characters)"
    message = f"waited {timeout:g} s for {awaiting}; last seen: {seen}"
    if details is not None:
        message += f"\n{details()}"
    return message
