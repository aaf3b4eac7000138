"""What moves with a module: every table it owns (its many-to-many tables too), and its rows
of the bus's tables in a database modules share (its events and their deliveries, its inbox
and handling failures)."""

from dataclasses import dataclass, field

from django.db.models import Model, Q

from modulith.aws.models import HandlingFailure
from modulith.modules import Module
from modulith.readiness import module_tables
from modulith.store.models import Delivery, InboxRecord, OutboxEvent


@dataclass(frozen=True)
class MovedTable:
    """A table that moves, or the rows of a shared table that do (`rows`)."""

    model: type[Model]
    rows: Q = field(default_factory=Q)
    # The module's own tables are copied in batches and frozen; its share of the bus's tables
    # is copied whole under the freeze (its handlers and relay keep changing them meanwhile).
    owned: bool = True

    @property
    def name(self) -> str:
        return self.model._meta.db_table

    @property
    def pk_column(self) -> str:
        pk = self.model._meta.pk
        assert pk is not None
        return str(pk.column)


def moved_tables(module: Module) -> list[MovedTable]:
    """The module's tables, in an order that copies a table before those that refer to it,
    then its share of the bus's tables."""
    events = Q(source=module.source)
    return [
        *(MovedTable(model) for model in module_tables(module.name)),
        MovedTable(OutboxEvent, events, owned=False),
        MovedTable(Delivery, Q(event__source=module.source), owned=False),
        MovedTable(InboxRecord, Q(subscriber=module.name), owned=False),
        MovedTable(HandlingFailure, Q(subscriber=module.name), owned=False),
    ]
