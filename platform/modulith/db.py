"""Where each module's models live: in the module's database, its own (the alias named after
it) or one it shares with the project's other apps (`database="default"` in its manifest).

The project's other apps are not the router's business: it answers None for them, so Django's
default (`default`) or the project's own routers, listed after this one, decide. It only keeps
them out of a module's own database.
"""

from typing import Any

from django.db.models import Model

from modulith.remote.models import NONCE_DATABASE, CallNonce
from modulith.runtime import runtime

FRAMEWORK_APP = "modulith"
# The framework's models that live once, in Django's own database, rather than in every
# module's: the nonces of the internal calls a service answered.
IN_DEFAULT = {CallNonce._meta.model_name: NONCE_DATABASE}


def database_of(module: str) -> str:
    """The alias of the database a module lives in, in this process: the shared one its
    manifest names, or its own once the deployment gives it one. Module code names its
    transactions' database with it (`transaction.atomic(using=database_of("newsletter"))`),
    never with a literal, so that moving the module changes no code."""
    return runtime().topology.module(module).database


class ModuleRouter:
    """Routes each running module's models to its database, and relations between a module's
    models and others only within one database.

    The framework's tables exist in every database a module lives in, so they get no route:
    code that touches them names the alias. The nonces of internal calls are the exception:
    one table, in `default`. A module's models also migrate on its own alias while it still
    lives in a shared database, when the project has one (the target of a move:
    `manage.py movedata`).
    """

    def _alias(self, model: type[Model]) -> str | None:
        app_label = model._meta.app_label
        if app_label == FRAMEWORK_APP:
            return IN_DEFAULT.get(model._meta.model_name or "")
        topology = runtime().topology
        module = topology.named(app_label)
        if module is None:
            return None
        return module.database if topology.is_running(module.name) else "default"

    def db_for_read(self, model: type[Model], **hints: Any) -> str | None:
        return self._alias(model)

    def db_for_write(self, model: type[Model], **hints: Any) -> str | None:
        return self._alias(model)

    def allow_relation(self, obj1: Model, obj2: Model, **hints: Any) -> bool | None:
        topology = runtime().topology
        labels = (obj1._meta.app_label, obj2._meta.app_label)
        if not any(topology.named(label) for label in labels):
            return None  # neither is a module's: the project's routers, or Django, decide
        return obj1._state.db == obj2._state.db

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool | None:
        topology = runtime().topology
        owned = {m.name for m in topology.modules}  # an alias named after a module is its own
        if app_label == FRAMEWORK_APP:
            if hints.get("model_name") in IN_DEFAULT:
                return db == IN_DEFAULT[hints["model_name"]]
            # Also in `default` while no module lives there: `migrate` records a migration as
            # applied where the router refuses it, so tables refused today would never come
            # the day a module moves in (the first step of adopting modulith).
            return db == "default" or db in topology.running_databases or db in owned
        module = topology.named(app_label)
        if module is not None:
            return db in {module.database, module.name}
        return False if db in owned else None  # a module's own database holds only its tables
