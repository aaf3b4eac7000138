"""A new module's files, rendered from the templates."""

from pydantic.alias_generators import to_camel

from modulith.scaffold.generated_tests import parts_of_tests
from modulith.scaffold.handler_parts import handler_parts
from modulith.scaffold.layout import call
from modulith.scaffold.manifest_parts import manifest_parts
from modulith.scaffold.names import Names
from modulith.scaffold.request import Plan
from modulith.scaffold.templates import template

# A new file's path, with `{module}` and `{tests}` for the module's directories -> its template
SOURCES = {
    "{module}/__init__.py": "module/__init__.py",
    "{module}/module.py": "module/module.py",
    "{module}/apps.py": "module/apps.py",
    "{module}/models.py": "module/models.py",
    "{module}/services.py": "module/services.py",
    "{module}/queries.py": "module/queries.py",
    "{module}/api.py": "module/api.py",
    "{module}/handlers.py": "module/handlers.py",
    "contracts/{name}.py": "contracts/module.py",
    "{tests}/test_{name}.py": "tests/test_module.py",
}


def render(plan: Plan) -> dict[str, str]:
    """The new files, by path relative to the project's root."""
    names = plan.names
    values = {
        **_values(names),
        **manifest_parts(plan),
        **handler_parts(plan),
        **parts_of_tests(plan),
        "package": plan.package,
        "database": plan.database,
        "database_line": (
            f'    database="{plan.database}",\n' if plan.database != names.name else ""
        ),
    }
    module, tests = plan.directory, plan.tests
    rendered = {
        path.format(module=module, tests=tests, name=names.name): template(source).substitute(
            values
        )
        for path, source in SOURCES.items()
    }
    return {**rendered, f"{module}/migrations/__init__.py": "", f"{tests}/__init__.py": ""}


def _values(names: Names) -> dict[str, str]:
    """What the templates' placeholders stand for that follows from the names alone."""
    return {
        "name": names.name,
        "Title": names.title,
        "Titles": names.possessive,
        "Camel": names.camel,
        "Model": names.model,
        "entity": names.entity,
        "plural": names.plural,
        "words": names.entity.replace("_", " "),
        "plural_words": names.plural.replace("_", " "),
        "Created": names.created,
        "Summary": names.summary,
        "Port": names.port,
        "id_key": to_camel(f"{names.entity}_id"),
        "event": call(
            8, f"event = {names.created}", [f"{names.entity}_id=record.id", "reference=reference"]
        ),
        "list_signature": call(
            0,
            f"def list_{names.plural}",
            ["request: HttpRequest", "filters: Query[ListFilter]"],
            f" -> QuerySet[{names.model}]:",
        ),
    }
