"""Relations across module lines, in both directions and with the project's other apps:
foreign keys, one-to-ones, many-to-manys, generic relations, and the user model. Each one
needs both ends in one database; each is listed with what would take its place."""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import router
from django.db.models import Model

from modulith.modules import Topology
from modulith.readiness.ties import Tie, port

AUTH = "auth"


@dataclass(frozen=True)
class Relation:
    """One relation from a model to a model of another unit."""

    kind: str
    owner: type[Model]
    field: Any
    target: type[Model]

    @property
    def what(self) -> str:
        return f"{self.owner._meta.label}.{self.field.name} -> {self.target._meta.label}"

    @property
    def owner_unit(self) -> str:
        return self.owner._meta.app_label

    @property
    def target_unit(self) -> str:
        return self.target._meta.app_label

    @property
    def across_databases(self) -> bool:
        """Whether its two ends live in different databases, where Django cannot follow it."""
        return router.db_for_write(self.owner) != router.db_for_write(self.target)


def relations() -> Iterator[Relation]:
    """Every relation from a model of one unit to a model of another, declared once (on the
    model that declares it, not on the models that inherit it)."""
    for model in apps.get_models():
        for field in model._meta.get_fields(include_parents=False, include_hidden=True):
            kind = _kind(field)
            if kind is None:
                continue
            target = _target(field)
            if target is not None and target._meta.app_label != model._meta.app_label:
                yield Relation(kind, model, field, target)


def relation_ties(topology: Topology) -> list[Tie]:
    """The ties of every module through relations, for the module at either end."""
    ties = []
    for relation in relations():
        for module, other in (
            (relation.owner_unit, relation.target_unit),
            (relation.target_unit, relation.owner_unit),
        ):
            if topology.named(module) is not None:
                kind = AUTH + " relation" if other == AUTH else relation.kind
                ties.append(Tie(module, kind, relation.what, other, _replacement(relation)))
    return ties


def user_model_ties(topology: Topology) -> list[Tie]:
    """The module that holds AUTH_USER_MODEL: Django's auth, admin and sessions need the user
    in their database."""
    label = getattr(settings, "AUTH_USER_MODEL", "auth.User")
    holder = label.partition(".")[0]
    if topology.named(holder) is None:
        return []
    return [
        Tie(
            holder,
            "user model",
            f"AUTH_USER_MODEL = {label!r}",
            AUTH,
            f"django.contrib.auth, admin and sessions need the user model in their database: "
            f"keep {holder} with them in the shared database (other modules keep a user's id "
            f"and ask {holder} through a query port, {port(holder)})",
        )
    ]


def _kind(field: Any) -> str | None:
    """What sort of relation a field declares, or None for any other field (and for the
    reverse side of a relation, which its declaring side reports)."""
    if not field.is_relation or (field.auto_created and not field.concrete):
        return None
    if hasattr(field, "ct_field") and hasattr(field, "fk_field"):
        return "generic foreign key"
    if hasattr(field, "object_id_field_name"):
        return "generic relation"
    if field.many_to_many:
        # A table of its own that the through model's foreign keys already describe.
        through = field.remote_field.through
        return "many-to-many" if through is None or through._meta.auto_created else None
    if field.one_to_one:
        return "one-to-one"
    return "foreign key"


def _target(field: Any) -> type[Model] | None:
    if hasattr(field, "ct_field") and hasattr(field, "fk_field"):
        # Any model: through its content type, which the ForeignKey to ContentType holds.
        return field.model._meta.get_field(field.ct_field).related_model  # type: ignore[no-any-return]
    target = field.related_model
    return target if isinstance(target, type) else None


def _replacement(relation: Relation) -> str:
    owner, target = relation.owner_unit, relation.target_unit
    noun = relation.target._meta.model_name
    if relation.kind == "generic foreign key":
        return f"{owner} keeps the type as a name (say 'app.model') and the id, not a ContentType"
    if relation.kind == "generic relation":
        return f"{owner} asks {target} through a query port ({port(target)}) for what points at it"
    if relation.kind == "many-to-many":
        return (
            f"{owner} keeps a table of its own with the {noun} ids and asks {target} through a "
            f"query port ({port(target)}) for what it shows of them"
        )
    keep = f"{owner} keeps the {noun}'s id ({relation.field.attname}) and asks {target} through "
    answer = f"{keep}a query port ({port(target)}) for what it reads of it"
    on_delete = getattr(relation.field.remote_field, "on_delete", None)
    name = getattr(on_delete, "__name__", "")
    if name in {"CASCADE", "SET_NULL", "SET_DEFAULT", "SET"}:
        event = f"{relation.target.__name__}Deleted"
        answer += f"; {target} publishes {event}, which {owner} handles in place of {name}"
    return answer
