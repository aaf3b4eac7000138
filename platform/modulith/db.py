"""Every module owns its database: a module's app lives on the alias named after it."""

from typing import Any

from django.db.models import Model

from modulith.remote.models import NONCE_DATABASE, CallNonce
from modulith.runtime import runtime

FRAMEWORK_APP = "modulith"
# The framework's models that live once, in Django's own database, rather than in every
# module's: the nonces of the internal calls a service answered.
IN_DEFAULT = {CallNonce._meta.model_name: NONCE_DATABASE}


class ModuleRouter:
    """Routes each module's models to its own alias and Django's own apps to `default`.

    The framework's tables exist in every module database, so they get no route: code that
    touches them names the alias. Relations never cross databases. The nonces of internal
    calls are the exception: one table, in `default`.
    """

    def _alias(self, model: type[Model]) -> str | None:
        app_label = model._meta.app_label
        if app_label == FRAMEWORK_APP:
            return IN_DEFAULT.get(model._meta.model_name or "")
        topology = runtime().topology
        return app_label if topology.is_running(app_label) else "default"

    def db_for_read(self, model: type[Model], **hints: Any) -> str | None:
        return self._alias(model)

    def db_for_write(self, model: type[Model], **hints: Any) -> str | None:
        return self._alias(model)

    def allow_relation(self, obj1: Model, obj2: Model, **hints: Any) -> bool:
        return obj1._state.db == obj2._state.db

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool:
        module_aliases = {m.database for m in runtime().topology.running_modules}
        if app_label == FRAMEWORK_APP:
            if hints.get("model_name") in IN_DEFAULT:
                return db == IN_DEFAULT[hints["model_name"]]
            return db in module_aliases
        if db in module_aliases:
            return app_label == db
        return db == "default" and app_label not in module_aliases
