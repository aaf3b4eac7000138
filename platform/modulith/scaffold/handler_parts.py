"""The variable parts of a new module's handlers: one stub for each event it subscribes to."""

from typing import Any
from uuid import UUID

from modulith.scaffold.imports import Imports
from modulith.scaffold.layout import call
from modulith.scaffold.manifest_parts import handler_name
from modulith.scaffold.request import Plan

NO_HANDLERS = (
    "\n\nNone yet: add `on_<event>(event: <Event>) -> None` here and name it in module.py.\n"
)


def handler_parts(plan: Plan) -> dict[str, str]:
    names = plan.names
    if not plan.handles:
        return {"no_handlers": NO_HANDLERS, "body": ""}
    imports = Imports().add(plan.package, "services")
    functions = []
    for event in plan.handles:
        imports.add(event.__module__, event.__name__)
        functions.append(
            f"\n\ndef {handler_name(event)}(event: {event.__name__}) -> None:\n"
            f"{call(4, f'services.{names.entity}_create', [f'reference={reference(event)}'])}\n"
        )
    return {"no_handlers": "", "body": "\n" + imports.render() + "\n" + "".join(functions)}


def reference(event: type[Any]) -> str:
    """What a handler records as the reference: the event's first id, else its first text."""
    fields = event.model_fields
    for name, info in fields.items():
        if info.annotation is UUID:
            return f"str(event.{name})"
    for name, info in fields.items():
        if info.annotation is str:
            return f"event.{name}"
    return "event.event_name"
