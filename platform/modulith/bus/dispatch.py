"""Handing one event to one subscribing module: inbox and effects in one transaction.

Before any handler sees an event, the dispatcher decides whether to believe it: the module
must handle its name, its `source` must be the module that publishes it or a foreign producer
the subscriber declares (`Module.accepts_from`), its major schema version must be one the
subscriber knows (an older one is upcast to it first, `modulith.contracts.evolution`, so
handlers see only the current version), and its data must pass the contract, validated
strictly as the JSON it came as (an event this process has just published, validated as it
was, is read back from its dump). Whatever fails is a PermanentFailure: no retry can change it.
"""

import copy
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pydantic
from django.db import transaction
from django.utils.module_loading import import_string

from modulith.bus.concurrency import HandlerSlots
from modulith.bus.handlers import call as call_handler
from modulith.bus.inbox import AlreadyHandled, HandlerRun, running
from modulith.contracts.evolution import VersionGap, major_of, upcast
from modulith.modules import Module, Topology
from modulith.observability.logs import event_fields, log_context
from modulith.observability.otel import event_attributes
from modulith.observability.trace import trace_context
from modulith.transports.envelope import Envelope, MalformedEvent
from modulith.transports.transport import DELIVERED, DUPLICATE, Outcome

log = logging.getLogger(__name__)


class PermanentFailure(Exception):
    """The event can never be handled as it is: bad data, an unknown type, a source the
    subscriber does not believe, a newer major version, or (raised by a handler) a reference
    to what will never exist, or a claim that contradicts what the module knows. Dead-lettered
    at once; any other exception of a handler is retried.

    `reason` is the kind of failure, a label for metrics: a handler's is `handler`."""

    def __init__(self, message: str, *, reason: str = "handler") -> None:
        super().__init__(message)
        self.reason = reason


class DependencyUnavailable(Exception):
    """What the subscriber needs is down (its database, a provider it calls): the event is not
    at fault. Its route or queue pauses and is probed; the event keeps its attempts."""


@dataclass
class Dispatcher:
    """Hands events to the handlers of the modules that subscribe to them.

    `unavailable` names the exceptions that mean a dependency is down rather than that the
    event failed (the composition root adds the project's port error for an unreachable
    provider to the database's own).
    """

    topology: Topology
    unavailable: tuple[type[BaseException], ...] = ()
    _imported: dict[str, Callable[[Any], object]] = field(default_factory=dict)
    # The running handlers that declare a concurrency, and the slots of each in this process.
    slots: HandlerSlots = field(init=False)

    def __post_init__(self) -> None:
        self.slots = HandlerSlots(self.topology.concurrency_limits())

    def _handlers(
        self, subscriber: Module, event_name: str
    ) -> list[tuple[str, Callable[[Any], object]]]:
        """The subscriber's handlers of the event, by path, imported once."""
        paths = subscriber.handlers_for(event_name)
        for path in paths:
            if path not in self._imported:
                self._imported[path] = import_string(path)
        return [(path, self._imported[path]) for path in paths]

    def deliver(
        self, envelope: Envelope, subscriber: Module, *, first_attempt: bool = False
    ) -> Outcome:
        """Hands the event to the subscriber's handlers; what became of it, decided here for
        every path that delivers (the in-process transport, the queue consumer, the Lambda
        consume function): handled, a duplicate, dead with its reason (it can never be handled
        as it is), the subscriber's dependency down (not the event's fault), busy (a handler of
        it runs as many deliveries as its concurrency allows: not started), or, for any other
        exception of a handler, due again later."""
        # Most processes limit no handler: no second look at the handlers on every delivery.
        limited = (
            self.slots.limited(subscriber.handlers_for(envelope.event_name))
            if self.slots.limits
            else ()
        )
        if limited and not self.slots.take(limited):
            return Outcome.busy_because(
                f"{', '.join(limited)} already runs as many deliveries as its concurrency allows"
            )
        try:
            handled = self.handle(envelope, subscriber, first_attempt=first_attempt)
        except (PermanentFailure, MalformedEvent) as failure:
            return Outcome.dead(str(failure), failure.reason)
        except DependencyUnavailable as unavailable:
            return Outcome.unavailable_because(str(unavailable))
        except Exception as error:
            return Outcome.retry(f"{type(error).__name__}: {error}", error)
        finally:
            if limited:
                self.slots.give_back(limited)
        return DELIVERED if handled else DUPLICATE

    def handle(
        self, envelope: Envelope, subscriber: Module, *, first_attempt: bool = False
    ) -> bool:
        """Runs the subscriber's handlers for the event; False when they had all handled it.

        Each handler runs outside any transaction, so its network calls hold no lock; its
        writes, in `modulith.bus.atomic`, commit with its inbox record. A handler that already
        handled the event is skipped; on the event's `first_attempt` nobody looks, since it
        cannot have been handled yet (the inbox's unique key refuses a duplicate all the
        same). In the event's trace (a `deliver` span of it), with log lines that say which
        module handles which event.
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
            event = _parse(envelope, subscriber, self.topology)
            handlers = self._handlers(subscriber, envelope.event_name)
            try:
                ran = [
                    _run(
                        HandlerRun(envelope, subscriber.name, subscriber.database, path),
                        handler,
                        event,
                        fields,
                        first_attempt,
                    )
                    for path, handler in handlers
                ]
            except self.unavailable as error:
                raise DependencyUnavailable(f"{type(error).__name__}: {error}") from error
            if not any(ran):
                log.info("%s was already handled; ignored", envelope.event_name, extra=fields)
                return False
            log.info("handled %s", envelope.event_name, extra=fields)
        return True


def _run(
    run: HandlerRun,
    handler: Callable[[Any], object],
    event: Any,
    fields: dict[str, str],
    first_attempt: bool,
) -> bool:
    """One handler, exactly once: False when its inbox already holds the event."""
    if not first_attempt and run.already_handled():
        return False
    # While the handler runs, the event is current and every log line says so.
    with running(run), log_context(**fields):
        try:
            call_handler(handler, event)  # an async one too, run to its end
            if not run.recorded:  # the handler wrote nothing through modulith.bus.atomic
                with transaction.atomic(using=run.database):
                    run.record()
        except AlreadyHandled:  # a concurrent delivery won; its effects stand, ours rolled back
            return False
    return True


def _parse(envelope: Envelope, subscriber: Module, topology: Topology) -> Any:
    event_type = topology.event_type(envelope.event_name)
    if event_type is None or not subscriber.handlers_for(envelope.event_name):
        raise PermanentFailure(
            f"{subscriber.name} does not handle {envelope.event_name} events", reason="not_handled"
        )
    _believe(envelope, subscriber, topology)
    data = _current_version(envelope, event_type, subscriber)
    try:
        if envelope.published_here:
            # This process dumped it from an event it validated as it published it: read back
            # as it is, a new event for each subscriber, without a round trip through JSON.
            return event_type.model_validate(data)
        # As the JSON it came as, strictly: "5" is no number, and a lone surrogate no text.
        return event_type.model_validate_json(json.dumps(data), strict=True)
    except pydantic.ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in issue['loc']) or 'data'}: {issue['msg']}"
            for issue in error.errors()
        )
        raise PermanentFailure(
            f"{envelope.event_name} data is invalid: {problems}", reason="invalid_data"
        ) from None


def _believe(envelope: Envelope, subscriber: Module, topology: Topology) -> None:
    """The event comes from its publisher, or from a foreign producer the subscriber declares;
    a module's own source in a foreign producer's shape (no metadata) is a forgery, since the
    modules never send that shape."""
    name, source = envelope.event_name, envelope.source
    believed = topology.sources_of(subscriber, name)
    if source not in believed:
        raise PermanentFailure(
            f"{subscriber.name} does not accept {name} from source {source[:100]!r}: only from "
            f"{', '.join(believed)} (a foreign producer is declared in the manifest's "
            "accepts_from)",
            reason="untrusted_source",
        )
    if envelope.foreign and source in topology.module_sources:
        raise PermanentFailure(
            f"{name} from {source} came without its metadata, which that module's events "
            "always carry",
            reason="untrusted_source",
        )


def _current_version(envelope: Envelope, event_type: Any, subscriber: Module) -> dict[str, Any]:
    """The event's data as the version the subscriber knows: an older major version through
    the contract's upcasters (on a copy: the envelope may go to other subscribers too); a
    newer one, or an older one no chain of upcasters leads from, can never be read. A foreign
    producer's event carries no version: it is read as the current one."""
    known, given = _major(event_type.schema_version), _major(envelope.schema_version)
    if given > known:
        raise PermanentFailure(
            f"{envelope.event_name} schema version {envelope.schema_version} is newer than "
            f"the version {event_type.schema_version} {subscriber.name} knows",
            reason="newer_version",
        )
    if given == known or envelope.foreign:
        return envelope.data
    try:
        return upcast(event_type, copy.deepcopy(envelope.data), from_major=given)
    except VersionGap as gap:
        raise PermanentFailure(str(gap), reason="version_gap") from None
    except Exception as error:  # the old data is not what the upcaster expects
        raise PermanentFailure(
            f"{envelope.event_name} {envelope.schema_version} could not be upcast to "
            f"{event_type.schema_version}: {type(error).__name__}: {error}",
            reason="upcast_failed",
        ) from None


def _major(version: str) -> int:
    major = major_of(version)
    if major is None:
        raise PermanentFailure(
            f"schema version {version[:20]!r} is not MAJOR.MINOR", reason="malformed"
        )
    return major
