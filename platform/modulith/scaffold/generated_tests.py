"""The variable parts of a new module's tests: a test of each handler, delivering twice."""

from typing import Any

from modulith.scaffold.examples import required_arguments
from modulith.scaffold.handler_parts import reference
from modulith.scaffold.imports import Imports
from modulith.scaffold.layout import call
from modulith.scaffold.names import Names, snake
from modulith.scaffold.request import Plan
from modulith.scaffold.templates import template


def parts_of_tests(plan: Plan) -> dict[str, str]:
    names = plan.names
    imports = _imports(names)
    if not plan.handles:
        return {"test_imports": imports.render(), "delivery_helpers": "", "handler_tests": ""}
    imports.add("uuid", "uuid4").add("django.utils", "timezone")
    imports.add("modulith.bus", "Envelope").add("modulith.runtime", "runtime")
    tests = [_handler_test(names, event, imports) for event in plan.handles]
    helpers = template("tests/delivery.py").substitute(name=names.name)
    return {
        "test_imports": imports.render(),
        "delivery_helpers": "\n\n" + helpers.rstrip("\n") + "\n",
        "handler_tests": "".join(tests),
    }


def _imports(names: Names) -> Imports:
    imports = Imports()
    imports.add("typing", "Any").add("pytest").add("django.test", "Client")
    imports.add(f"contracts.{names.name}", names.port)
    imports.add(f"modules.{names.name}", "services")
    imports.add(f"modules.{names.name}.models", names.model)
    imports.add("modulith.outbox.models", "OutboxEvent").add("modulith.ports", "query_port")
    return imports


def _handler_test(names: Names, event: type[Any], imports: Imports) -> str:
    imports.add(event.__module__, event.__name__)
    arguments = required_arguments(event, imports)
    return (
        f"\n\ndef test_{snake(event.event_name)}_records_a_{names.entity}() -> None:\n"
        '    """Once, even when the event is delivered again."""\n'
        f"{call(4, f'event = {event.__name__}', arguments)}\n"
        "    envelope = envelope_of(event)\n\n"
        "    deliver(envelope)\n"
        "    deliver(envelope)\n\n"
        f"    [record] = {names.model}.objects.all()\n"
        f"    assert record.reference == {reference(event)}\n"
    )
