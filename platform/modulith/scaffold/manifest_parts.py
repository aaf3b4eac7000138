"""The variable parts of a new module's manifest: its imports, what it handles and provides."""

from typing import Any

from modulith.scaffold.imports import Imports
from modulith.scaffold.layout import keyword_mapping
from modulith.scaffold.names import snake
from modulith.scaffold.request import Plan


def manifest_parts(plan: Plan) -> dict[str, str]:
    names = plan.names
    return {
        "manifest_imports": _imports(plan).render(),
        "handles": _handles(plan),
        "provides": keyword_mapping(
            "provides", [f'{names.port}: "{plan.package}.queries.{names.port}Impl"']
        ),
    }


def handler_name(event: type[Any]) -> str:
    return f"on_{snake(event.event_name)}"


def _imports(plan: Plan) -> Imports:
    imports = Imports().add("modulith", "Module")
    imports.add(f"contracts.{plan.names.name}", plan.names.created, plan.names.port)
    for event in plan.handles:
        imports.add(event.__module__, event.__name__)
    return imports


def _handles(plan: Plan) -> str:
    if not plan.handles:
        return ""
    return keyword_mapping(
        "handles",
        [
            f'{event.__name__}: "{plan.package}.handlers.{handler_name(event)}"'
            for event in plan.handles
        ],
    )
