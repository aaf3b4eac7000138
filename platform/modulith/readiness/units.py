"""Units of the project: each installed app is one, and a module's app is the module (its
label is the module's name). Who owns a model, a table, a function."""

from django.apps import apps
from django.db.models import Model


def unit_of_path(dotted: str) -> str:
    """The app whose package holds this Python module (the longest match), else its top
    package: where a function is defined."""
    matches = [
        config
        for config in apps.get_app_configs()
        if dotted == config.name or dotted.startswith(config.name + ".")
    ]
    if not matches:
        return dotted.partition(".")[0]
    return max(matches, key=lambda config: len(config.name)).label


def module_tables(app_label: str) -> list[type[Model]]:
    """The models whose tables an app owns, many-to-many tables included, in an order that
    creates (and copies) every table before one that refers to it."""
    owned = [
        model
        for model in apps.get_app_config(app_label).get_models(include_auto_created=True)
        if model._meta.managed and not model._meta.proxy and not model._meta.swapped
    ]
    ordered: list[type[Model]] = []

    def visit(model: type[Model], seen: frozenset[type[Model]]) -> None:
        if model in ordered or model in seen:
            return
        for field in model._meta.local_fields:
            target = field.related_model if field.is_relation else None
            if isinstance(target, type) and target in owned and target is not model:
                visit(target, seen | {model})
        ordered.append(model)

    for model in owned:
        visit(model, frozenset())
    return ordered
