"""Publishing: the event joins the outbox in the publisher's own transaction."""

import json
import logging
import uuid
from datetime import datetime, timedelta
from typing import Any, Protocol

from django.db import transaction
from django.utils import timezone

from modulith.bus.scheduling import Schedule
from modulith.conf import ModulithSettings
from modulith.conf.installed import INSTALLED
from modulith.contracts.evolution import current_major, downcast, name_at
from modulith.database.store.envelopes import keep_envelope
from modulith.database.store.models import Delivery, DeliveryStatus, OutboxEvent
from modulith.database.store.statements import insert, loaded
from modulith.modules import Topology
from modulith.modules.errors import ConfigurationError
from modulith.observability.logs import event_fields
from modulith.observability.metrics import EVENTS_PUBLISHED
from modulith.observability.otel import event_attributes
from modulith.observability.trace import current_trace, span, trace_id
from modulith.transports.envelope import Envelope, new_event_id
from modulith.transports.transport import Transport

log = logging.getLogger(__name__)


# The longest ordering key: what a FIFO queue takes as a message group id.
MAX_ORDERING_KEY = 128


class EventTooLarge(ValueError):
    """The event would not fit in a message of the configured transport."""


class Executor(Protocol):
    """What delivers what a transaction published, once it commits
    (`modulith.outbox.executors`; Celery's is `modulith.tasks`). It declares how by the claim
    it stores each delivery with (`claim`): one that delivers at publish (inline, on this
    process's threads) claims them as they are stored, so no sweep takes them meanwhile; one
    that leaves them to a worker or to the relay's sweep claims nothing, and they are claimed
    as they are taken."""

    name: str

    def claim(self) -> dict[str, object]:
        """The claim columns a delivery is stored with."""
        ...

    def after_commit(self, alias: str, deliveries: list[Delivery], *, all_stored: bool) -> None:
        """Delivers (or hands on) what a transaction of `alias` published, once it committed;
        `all_stored`: none of them was published in a savepoint that rolled back."""
        ...


class Publishing(Protocol):
    """What publishing reads of the runtime this process installed (`modulith.conf.installed`):
    the runtime, which this layer cannot name."""

    @property
    def topology(self) -> Topology: ...

    @property
    def transport(self) -> Transport: ...

    @property
    def executor(self) -> Executor: ...

    @property
    def max_event_bytes(self) -> int: ...

    @property
    def settings(self) -> ModulithSettings: ...


def publish(
    event: Any,
    *,
    deliver_at: datetime | None = None,
    delay: timedelta | None = None,
    schedule_key: str | None = None,
) -> uuid.UUID:
    """Stores the event in the publishing module's outbox; it is delivered after commit.

    Must run inside `transaction.atomic(using=<publishing module>)`, so the event commits or
    rolls back with the writes it describes.

    A scheduled event (`deliver_at`, an aware datetime, or `delay`) is delivered once that
    time has come, by the relay's sweep, on every transport and whatever the delay; until a
    relay claims it, `cancel_scheduled` cancels it by the id returned here or by its
    `schedule_key`, a name the publisher chooses (`"payment-deadline:<order id>"`).
    """
    schedule = Schedule.of(deliver_at=deliver_at, delay=delay, key=schedule_key)
    current: Publishing = INSTALLED.runtime
    module = current.topology.publisher_of(event.event_name)
    if not current.topology.is_running(module.name):
        raise ConfigurationError(f"{module.name} does not run here, so it cannot publish")
    alias = module.database
    if not transaction.get_connection(alias).in_atomic_block:
        raise RuntimeError(
            f"publish {event.event_name} inside transaction.atomic(using={alias!r}) (async "
            f"code: await apublish inside async with aatomic(using={alias!r})) "
            "so the event commits with the writes it describes"
        )
    event_id = new_event_id()
    attributes = event_attributes(module.name, event.event_name, event_id)
    # The event carries the trace of the work that published it (a new one outside any).
    with span(f"publish {event.event_name}", kind="producer", attributes=attributes):
        envelope = _as_published(
            event,
            current.settings.publish_versions.get(event.event_name),
            event_id=event_id,
            source=module.source,
            occurred_at=timezone.now(),
            trace=current_trace(),
        )
        wire = envelope.to_wire()
        _check_size(envelope.event_name, wire, current.max_event_bytes)
        # A scheduled delivery is claimed by the sweep that finds it due, never at publish.
        claim = current.executor.claim() if schedule is None else {}
        routes = current.transport.routes(envelope.event_name)
        # A scheduled event goes when it is due, not in its key's line (it would hold the
        # key's later events back until then).
        key = (
            current.topology.ordering_value(envelope.event_name, envelope.data)
            if schedule is None
            else None
        )
        if key is not None and len(key) > MAX_ORDERING_KEY:
            raise ValueError(
                f"{event.event_name}.{event.ordering_key} is {len(key)} characters long; an "
                f"ordering key is at most {MAX_ORDERING_KEY} (an SQS message group id's limit)"
            )
        deliveries = _store(alias, envelope, wire, routes, claim, schedule, key)

    def committed() -> None:  # a named function: Django logs a failing hook by its name
        _committed(module.name, envelope, schedule)

    transaction.on_commit(committed, using=alias, robust=True)
    if deliveries and schedule is None:
        _deliver_after_commit(alias, deliveries, current.executor)
    return envelope.event_id


def _as_published(event: Any, version: int | None, **envelope: Any) -> Envelope:
    """The event as it goes on the wire: its current version, or the older major `version`
    its consumers still read (MODULITH_PUBLISH_VERSIONS), through its contract's downcasters
    and under the name it had then."""
    data = event.model_dump(mode="json", by_alias=True)
    event_type = type(event)
    if version is None or version >= current_major(event_type):
        return Envelope(
            event_name=event.event_name,
            schema_version=event.schema_version,
            data=data,
            published_here=True,
            **envelope,
        )
    return Envelope(
        event_name=name_at(event_type, version),
        schema_version=f"{version}.0",
        data=downcast(event_type, data, to_major=version),
        **envelope,
    )


def _store(
    alias: str,
    envelope: Envelope,
    wire: dict[str, Any],
    routes: list[str],
    claim: dict[str, object],
    schedule: Schedule | None,
    ordering_key: str | None,
) -> list[Delivery]:
    """The event and one delivery per route, in two statements; returns the deliveries as
    the ORM would load them, each with its event."""
    now = envelope.occurred_at
    event_row = {
        "id": envelope.event_id,
        "event_name": envelope.event_name,
        "source": envelope.source,
        "occurred_at": now,
        "trace_id": trace_id(),
        "wire": wire,
        "created_at": now,
        "deliver_at": schedule.due(now) if schedule else None,
        "schedule_key": schedule.key if schedule else None,
    }
    insert(alias, OutboxEvent, [event_row])
    event = loaded(alias, OutboxEvent, event_row)
    keep_envelope(event, envelope)  # what the relay sends, if this process delivers it
    if not routes:
        return []
    rows = [
        {
            "event_id": envelope.event_id,
            "route": route,
            "status": DeliveryStatus.PENDING.value,
            "attempts": 0,
            "next_attempt_at": event_row["deliver_at"] or now,
            "claimed_by": "",
            "claimed_until": None,
            "last_error": "",
            "delivered_at": None,
            "dead_at": None,
            "cancellable": schedule is not None,
            "cancelled_at": None,
            "ordering_key": ordering_key,
            "updated_at": now,
        }
        | claim
        for route in routes
    ]
    ids = insert(alias, Delivery, rows, returning_pk=True)
    deliveries = [
        loaded(alias, Delivery, {"id": pk, **row}) for pk, row in zip(ids, rows, strict=True)
    ]
    for delivery in deliveries:
        Delivery.event.field.set_cached_value(delivery, event)  # its event, without a query
    return deliveries


_BATCH = "modulith_publish_batch"


class _AfterCommit:
    """What one transaction publishes, handed to the executor together once it commits, so the
    relay can send it in full batches. Registered with the transaction's on-commit hooks, so a
    rollback drops it (and the next transaction starts a batch of its own). A delivery
    published inside a savepoint could have been rolled back with it while the transaction
    committed: then the relay checks which of them exist rather than trusting the batch."""

    def __init__(self, alias: str, executor: Executor) -> None:
        self.alias = alias
        self.executor = executor
        self.deliveries: list[Delivery] = []
        self.all_stored = True
        self.__qualname__ = "modulith deliver_after_commit"  # Django logs a failing hook by it

    def __call__(self) -> None:
        self.executor.after_commit(self.alias, self.deliveries, all_stored=self.all_stored)


def _deliver_after_commit(alias: str, deliveries: list[Delivery], executor: Executor) -> None:
    connection = transaction.get_connection(alias)
    batch: _AfterCommit | None = connection.__dict__.get(_BATCH)
    # Still this transaction's? Its hook is gone if the transaction (or the savepoint it was
    # registered in) rolled back, and was run if it committed.
    if batch is None or not any(hook is batch for _, hook, _ in connection.run_on_commit):
        batch = connection.__dict__[_BATCH] = _AfterCommit(alias, executor)
        transaction.on_commit(batch, using=alias, robust=True)
    batch.deliveries.extend(deliveries)
    if connection.savepoint_ids:
        batch.all_stored = False


def _committed(module: str, envelope: Envelope, schedule: Schedule | None) -> None:
    EVENTS_PUBLISHED.labels(module, envelope.event_name).inc()
    if not log.isEnabledFor(logging.INFO):  # spare building the line's fields
        return
    log.info(
        "published %s%s",
        envelope.event_name,
        f", due at {schedule.due(envelope.occurred_at).isoformat()}" if schedule else "",
        extra=event_fields(
            module=module,
            event_id=envelope.event_id,
            event_name=envelope.event_name,
            data=envelope.data,
            traceparent=envelope.traceparent,
        ),
    )


def _check_size(event_name: str, wire: dict[str, Any], limit: int) -> None:
    size = len(json.dumps(wire, separators=(",", ":")).encode())
    if size > limit:
        raise EventTooLarge(
            f"{event_name} is {size} bytes on the wire; the limit is {limit} "
            "(MODULITH_MAX_EVENT_BYTES). Carry ids, not documents."
        )
