"""Handing one event to one subscribing module: inbox and effects in one transaction."""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import pydantic
from django.db import IntegrityError, transaction
from django.utils.module_loading import import_string

from modulith.bus.envelope import Envelope
from modulith.modules import Module, Topology
from modulith.observability.trace import trace_context
from modulith.outbox.models import InboxRecord

_current_envelope: ContextVar[Envelope | None] = ContextVar("modulith_envelope", default=None)


class PermanentFailure(Exception):
    """The event can never be handled as it is (bad data, unknown type, newer major version)."""


def current_envelope() -> Envelope | None:
    """The event being handled right now, for handlers that need its id or metadata."""
    return _current_envelope.get()


def handle(envelope: Envelope, subscriber: Module, topology: Topology) -> bool:
    """Runs the subscriber's handlers for the event; False when it had already handled it."""
    event = _parse(envelope, subscriber, topology)
    handlers = [import_string(path) for path in subscriber.handlers_for(envelope.event_name)]
    with transaction.atomic(using=subscriber.database):
        if not _record_in_inbox(envelope, subscriber):
            return False
        with _handling(envelope):
            for handler in handlers:
                handler(event)
    return True


def _parse(envelope: Envelope, subscriber: Module, topology: Topology) -> Any:
    event_type = topology.event_type(envelope.event_name)
    if event_type is None or not subscriber.handlers_for(envelope.event_name):
        raise PermanentFailure(f"{subscriber.name} does not handle {envelope.event_name} events")
    known, given = _major(event_type.schema_version), _major(envelope.schema_version)
    if given > known:
        raise PermanentFailure(
            f"{envelope.event_name} schema version {envelope.schema_version} is newer than "
            f"the version {event_type.schema_version} {subscriber.name} knows"
        )
    try:
        return event_type.model_validate(envelope.data)
    except pydantic.ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in issue['loc']) or 'data'}: {issue['msg']}"
            for issue in error.errors()
        )
        raise PermanentFailure(f"{envelope.event_name} data is invalid: {problems}") from None


def _major(version: str) -> int:
    try:
        return int(version.split(".", 1)[0])
    except ValueError:
        raise PermanentFailure(f"schema version {version!r} is not MAJOR.MINOR") from None


def _record_in_inbox(envelope: Envelope, subscriber: Module) -> bool:
    try:
        with transaction.atomic(using=subscriber.database):
            InboxRecord.objects.using(subscriber.database).create(
                event_id=envelope.event_id,
                subscriber=subscriber.name,
                event_name=envelope.event_name,
            )
    except IntegrityError:
        return False
    return True


@contextmanager
def _handling(envelope: Envelope) -> Iterator[None]:
    token = _current_envelope.set(envelope)
    try:
        with trace_context(envelope.traceparent):
            yield
    finally:
        _current_envelope.reset(token)
