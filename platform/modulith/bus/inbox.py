"""The inbox: which handler has handled which event, recorded with the handler's writes.

A handler does its network calls (query ports, gateways) first, outside any transaction, then
its writes inside `atomic(using=<its module>)`. Inside a delivery, that transaction also
records the event in the handler's inbox, so the effects and the record commit together: a
redelivered event finds the record and has no second effect, and no transaction of the
module's database stays open across a network call.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from modulith.database.store.models import InboxRecord
from modulith.database.store.statements import insert
from modulith.transports.envelope import Envelope


class AlreadyHandled(Exception):
    """A concurrent delivery of the same event recorded it first: these writes roll back."""


@dataclass
class HandlerRun:
    """One handler of one subscribing module, handling one event, in this thread."""

    envelope: Envelope
    subscriber: str
    database: str
    handler: str
    recorded: bool = False

    def already_handled(self) -> bool:
        # A record without a handler is module-wide (written before records named their handler).
        return (
            InboxRecord.objects.using(self.database)
            .filter(
                event_id=self.envelope.event_id,
                subscriber=self.subscriber,
                handler__in=[self.handler, ""],
            )
            .exists()
        )

    def record(self) -> None:
        """Inside a transaction of the subscriber's database; raises AlreadyHandled if a
        concurrent delivery got there first. (No savepoint: AlreadyHandled rolls back the
        whole transaction, the handler's writes with it.)"""
        record = {
            "event_id": self.envelope.event_id,
            "subscriber": self.subscriber,
            "handler": self.handler,
            "event_name": self.envelope.event_name,
            "handled_at": timezone.now(),
        }
        try:
            insert(self.database, InboxRecord, [record])
        except IntegrityError:
            raise AlreadyHandled(self.envelope.event_id) from None
        self.recorded = True


_current_run: ContextVar[HandlerRun | None] = ContextVar("modulith_handler_run", default=None)


def current_envelope() -> Envelope | None:
    """The event being handled in this thread right now, for handlers that need its id or
    metadata (and for remote calls, which the bus retries, to make one attempt)."""
    run = _current_run.get()
    return run.envelope if run else None


@contextmanager
def running(run: HandlerRun) -> Iterator[None]:
    token = _current_run.set(run)
    try:
        yield
    finally:
        _current_run.reset(token)


@contextmanager
def atomic(*, using: str) -> Iterator[None]:
    """`transaction.atomic(using=...)` for a module's writes. Inside a delivery to that
    module, the outermost such block also records the event in the handler's inbox, so the
    writes and the record commit together (or neither does)."""
    run = _current_run.get()
    outermost = not transaction.get_connection(using).in_atomic_block
    joining = run if run and not run.recorded and run.database == using and outermost else None
    try:
        with transaction.atomic(using=using):
            if joining:
                joining.record()
            yield
    except BaseException:
        if joining:
            joining.recorded = False  # rolled back with the writes
        raise
