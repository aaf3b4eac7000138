"""Calling a handler, a plain function or an `async def` one.

Every delivery path (the inline, thread-pool and Celery executors, the relay's sweep, the queue
consumer and the Lambda consume function) calls handlers on a thread of its own, with no event
loop running there, through `Dispatcher.handle`. An async handler is run to its end on that
thread with asgiref's `async_to_sync`: its `sync_to_async` calls, the async ORM's and
`aatomic`'s among them, come back to the delivering thread, so its writes share that thread's
connection and its inbox record, as a plain handler's do.
"""

import inspect
from collections.abc import Awaitable, Callable
from typing import Any, cast

from asgiref.sync import async_to_sync, iscoroutinefunction


def is_async(handler: Callable[..., object]) -> bool:
    """An `async def` function (a partial of one, one marked with asgiref's
    `markcoroutinefunction`, or an object whose `__call__` is one)."""
    # The method itself, when there is one (not whether the object is callable).
    call_method = getattr(handler, "__call__", None)  # noqa: B004
    return iscoroutinefunction(handler) or iscoroutinefunction(call_method)


def async_problem(handler: Callable[..., object]) -> str | None:
    """Why calling `handler` would not run its body to its end (None when it would): the bus
    awaits a coroutine function, and calls any other function; a generator's body would never
    start, and a plain wrapper's coroutine would never be awaited."""
    if inspect.isasyncgenfunction(handler):
        return "an async generator function, whose body the bus would never run"
    if inspect.isgeneratorfunction(handler):
        return "a generator function, whose body the bus would never run"
    wrapped = inspect.unwrap(handler)
    if not is_async(handler) and wrapped is not handler and is_async(wrapped):
        return (
            f"a plain function wrapping the coroutine function {wrapped.__qualname__}, whose "
            "coroutine the bus would never await (make the wrapper async def, or mark it with "
            "asgiref.sync.markcoroutinefunction)"
        )
    return None


def call(handler: Callable[[Any], object], event: Any) -> None:
    """Runs the handler with the event to its end, awaiting it if it is async."""
    if is_async(handler):
        async_to_sync(cast(Callable[[Any], Awaitable[object]], handler))(event)
        return
    result = handler(event)
    if inspect.isawaitable(result):  # a wrapper the check at start could not see through
        if inspect.iscoroutine(result):
            result.close()  # never awaited: no "was never awaited" warning on top
        name = getattr(handler, "__qualname__", type(handler).__name__)
        raise TypeError(
            f"handler {name} returned an awaitable without awaiting it: make it async def, "
            "or mark it with asgiref.sync.markcoroutinefunction"
        )
