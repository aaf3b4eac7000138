"""Handing one event to one subscribing module: inbox and effects in one transaction."""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import pydantic
from django.db import IntegrityError, transaction
from django.utils.module_loading import import_string

from modulith.bus.envelope import Envelope
from modulith.modules import Module, Topology
from modulith.observability.logs import event_fields, log_context
from modulith.observability.otel import event_attributes
from modulith.observability.trace import trace_context
from modulith.outbox.models import InboxRecord

log = logging.getLogger(__name__)
_current_envelope: ContextVar[Envelope | None] = ContextVar("modulith_envelope", default=None)


class PermanentFailure(Exception):
    """The event can never be handled as it is (bad data, unknown type, newer major version)."""


def current_envelope() -> Envelope | None:
    """The event being handled right now, for handlers that need its id or metadata."""
    return _current_envelope.get()


def handle(envelope: Envelope, subscriber: Module, topology: Topology) -> bool:
    """Runs the subscriber's handlers for the event; False when it had already handled it.

    In the event's trace (a `deliver` span of it), with log lines that say which module handles
    which event, and the business ids of its data.
    """
    fields = event_fields(
        module=subscriber.name,
        event_id=envelope.event_id,
        event_name=envelope.event_name,
        data=envelope.data,
    )
    attributes = event_attributes(subscriber.name, envelope.event_name, envelope.event_id)
    with trace_context(
        envelope.traceparent,
        f"deliver {envelope.event_name}",
        kind="consumer",
        attributes=attributes,
    ):
        event = _parse(envelope, subscriber, topology)
        handlers = [import_string(path) for path in subscriber.handlers_for(envelope.event_name)]
        with transaction.atomic(using=subscriber.database), _handling(envelope, fields):
            if not _record_in_inbox(envelope, subscriber):
                log.info("%s was already handled; ignored", envelope.event_name)
                return False
            for handler in handlers:
                handler(event)
        log.info("handled %s", envelope.event_name, extra=fields)
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
def _handling(envelope: Envelope, fields: dict[str, str]) -> Iterator[None]:
    """While the handlers run: the event is current, and every log line says so. (Not while
    the transaction commits: what runs after the commit is about other events.)"""
    token = _current_envelope.set(envelope)
    try:
        with log_context(**fields):
            yield
    finally:
        _current_envelope.reset(token)
