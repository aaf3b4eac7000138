"""The Django admin of a modular monolith.

Each module's models live in the module's own database, so a module's admin pins every query
and write to that alias (`ModuleAdmin`, `ModuleTabularInline`), as in Django's multiple-database
admin recipe. The framework's own tables (outbox, deliveries, dead letters, inbox) exist once in
every module database: their admin (in `modulith.admin.outbox`) shows one module's copy at a
time, chosen on the page.

Importing this module, which Django's admin does on start, registers the framework's admin and
adds a link to the module map on the admin index.
"""

from typing import Any

from django.contrib import admin
from django.db.models import Model, QuerySet
from django.http import HttpRequest

from modulith.admin.outbox import (
    ModelAdminBase,
    ReadOnly,
    TabularInlineBase,
    register_framework_admin,
)
from modulith.db import database_of

__all__ = ["ModuleAdmin", "ModuleTabularInline", "ReadOnly", "ReadOnlyModuleAdmin"]


def module_database(model: type[Model]) -> str:
    """The database alias of the module a model belongs to (its app label is the module)."""
    return database_of(model._meta.app_label)


class ModuleDatabase:
    """Pins an admin's reads, and the choices of its relation fields, to a module's database.

    `using` names the alias; unset, it is the database of the model's module (looked up when
    used: admin classes are made before the framework is set up).
    """

    model: type[Model]
    using: str | None = None

    @property
    def database(self) -> str:
        return self.using or module_database(self.model)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        queryset: QuerySet[Any] = super().get_queryset(request)  # type: ignore[misc]
        return queryset.using(self.database)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        return super().formfield_for_foreignkey(  # type: ignore[misc]
            db_field, request, using=self.database, **kwargs
        )

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        return super().formfield_for_manytomany(  # type: ignore[misc]
            db_field, request, using=self.database, **kwargs
        )


class ModuleAdmin(ModuleDatabase, ModelAdminBase):
    """A model admin whose reads and writes all go to one module's database. A change writes
    only the columns the form changed (and `auto_now` ones), so it never overwrites what a
    service wrote to the same row meanwhile (say, stock reserved while the form was open).
    """

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: Any) -> None:
        if not change:
            obj.save(using=self.database)
            return
        columns = [
            field.name
            for field in obj._meta.concrete_fields
            if field.name in form.changed_data or getattr(field, "auto_now", False)
        ]
        if any(name in form.changed_data for name in columns):
            obj.save(using=self.database, update_fields=columns)

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        obj.delete(using=self.database)

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: Any) -> None:
        formset.save(commit=False)  # sorts the forms into new, changed and deleted objects
        for deleted in formset.deleted_objects:
            deleted.delete(using=self.database)
        for instance in [*formset.new_objects, *(obj for obj, _ in formset.changed_objects)]:
            instance.save(using=self.database)
        formset.save_m2m()


class ModuleTabularInline(ModuleDatabase, TabularInlineBase):
    """An inline of a module's model, read from and written to the module's database."""


class ReadOnlyModuleAdmin(ReadOnly, ModuleAdmin):
    """A module's model shown in the admin, never changed there."""


register_framework_admin(admin.site)
