"""The variable parts of a new module's tests: a test of each handler, delivering twice."""

from typing import Any

from modulith.scaffold.examples import required_arguments
from modulith.scaffold.handler_parts import reference
from modulith.scaffold.imports import Imports
from modulith.scaffold.layout import call
from modulith.scaffold.names import Names, snake
from modulith.scaffold.request import Plan


def parts_of_tests(plan: Plan) -> dict[str, str]:
    names = plan.names
    imports = _imports(plan)
    tests = [_handler_test(names, event, imports) for event in plan.handles]
    return {"test_imports": imports.render(), "handler_tests": "".join(tests)}


def _imports(plan: Plan) -> Imports:
    names = plan.names
    imports = Imports()
    imports.add("pytest").add("django.test", "Client")
    imports.add(f"contracts.{names.name}", names.created, names.port)
    imports.add(plan.package, "services")
    imports.add(f"{plan.package}.models", names.model)
    imports.add("modulith.conf", "modulith_settings")
    imports.add("modulith.ports", "query_port")
    imports.add("modulith.testing.scenario", "Scenario", "ScenarioFactory")
    return imports


def _handler_test(names: Names, event: type[Any], imports: Imports) -> str:
    imports.add(event.__module__, event.__name__)
    arguments = required_arguments(event, imports)
    test = f"def test_{snake(event.event_name)}_records_a_{names.entity}"
    return (
        f"\n\n{call(0, test, ['scenario: Scenario'], ' -> None:')}\n"
        '    """Once, even when the event is delivered again."""\n'
        f"{call(4, f'event = {event.__name__}', arguments)}\n\n"
        "    scenario.deliver(event).again()\n\n"
        f"    [record] = {names.model}.objects.all()\n"
        f"    assert record.reference == {reference(event)}\n"
    )
