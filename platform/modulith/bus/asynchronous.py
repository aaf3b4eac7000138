"""Publishing from async code (an `async def` view, an `async def` handler), with the
guarantees of `publish`: the event joins the outbox in the transaction of the writes it
describes, is delivered only after that transaction commits, and vanishes with a rollback.

Django's transactions are synchronous: a transaction is a state of one database connection,
and a connection belongs to one thread. So every step of an async transaction here runs on one
thread: the one `sync_to_async(thread_sensitive=True)` runs on, which is also where Django's
async ORM (`acreate`, `aget`, `asave`, ...) runs its queries. Under Django's ASGI handler that
is one thread per request; in an async handler, the thread delivering the event. Entering the
block, each query in it, `apublish`, and leaving it then share one connection, so they share
its transaction. An `async with aatomic(...)` block may contain:

- awaits of the async ORM and of `sync_to_async(f)` (thread-sensitive, its default),
  `await apublish(...)` and `await acancel_scheduled(...)`;
- computation.

It must not contain what runs on another thread, with another connection, outside the
transaction (whose writes would commit even if the block rolls back): the sync ORM (Django
raises SynchronousOnlyOperation), `sync_to_async(f, thread_sensitive=False)`,
`asyncio.to_thread`, `loop.run_in_executor`; nor network calls, which would hold the
transaction open (make them before the block); nor tasks that use the ORM concurrently with
the block (`asyncio.gather`, `create_task`): they run on the same thread, and would join the
transaction. Code with several steps that need no awaiting is simpler as a sync service,
called with `await sync_to_async(service)(...)`, which runs it whole on that thread.
"""

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from asgiref.sync import sync_to_async

from modulith.bus.inbox import atomic
from modulith.bus.publisher import publish
from modulith.bus.scheduling import cancel_scheduled


async def apublish(
    event: Any,
    *,
    deliver_at: datetime | None = None,
    delay: timedelta | None = None,
    schedule_key: str | None = None,
) -> uuid.UUID:
    """`publish` for async code: inside `async with aatomic(using=<publishing module>)`."""
    return await sync_to_async(publish, thread_sensitive=True)(
        event, deliver_at=deliver_at, delay=delay, schedule_key=schedule_key
    )


async def acancel_scheduled(
    *, key: str | None = None, event_id: UUID | str | None = None, using: str | None = None
) -> int:
    """`cancel_scheduled` for async code: inside `async with aatomic(using=<publishing
    module>)`, so the cancel commits or rolls back with the block's writes."""
    return await sync_to_async(cancel_scheduled, thread_sensitive=True)(
        key=key, event_id=event_id, using=using
    )


@asynccontextmanager
async def aatomic(*, using: str) -> AsyncIterator[None]:
    """`atomic(using=...)` for async code: the transaction is entered, and left (committed,
    or rolled back by an exception, a cancellation too), on the thread where the block's
    async ORM calls and `apublish` run. In a delivery to an async handler, the outermost block
    records the event in the handler's inbox with its writes, as `atomic` does."""
    block = atomic(using=using)
    # thread_sensitive (asgiref's default, spelled out): the thread of the connection.
    await sync_to_async(block.__enter__, thread_sensitive=True)()
    try:
        yield
    except BaseException as error:
        await sync_to_async(block.__exit__, thread_sensitive=True)(
            type(error), error, error.__traceback__
        )
        raise
    await sync_to_async(block.__exit__, thread_sensitive=True)(None, None, None)
