"""Which rows of the bus's tables are a module's. A module with a database of its own owns
every row there. Modules that share a database share its tables: each owns the events it
published (their `source`), their deliveries, and its inbox and handling failures."""

from django.db.models import Q

from modulith.modules import Module


def events_of(module: Module) -> Q:
    """The module's rows of OutboxEvent."""
    return Q(source=module.source) if module.shares_database else Q()


def deliveries_of(module: Module) -> Q:
    """The module's rows of Delivery (and DeadLetter): those of its events."""
    return Q(event__source=module.source) if module.shares_database else Q()


def records_of(module: Module) -> Q:
    """The module's rows of InboxRecord and HandlingFailure."""
    return Q(subscriber=module.name) if module.shares_database else Q()
