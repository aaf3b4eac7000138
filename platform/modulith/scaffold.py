"""Scaffolding a module (`manage.py startmodule`): the code of a working module, and the
edits that make it part of the application.

A new module gets its manifest, app, model, services, queries, router, handlers, migration
and tests, a contracts file with an event it publishes and the query port it provides, a line
in the settings' MODULITH_MANIFESTS (the composition root) and a place in the import-linter
independence contract. The migration, the stored event schemas and the module map are then
produced by the project's own commands, in a separate process that sees the new module. Either
everything is done or nothing is: a failing step undoes the others.

The code is rendered from the templates in `scaffold_templates/`, already in the project's
style (ruff, line length 100), so a new module passes the same checks as the others.
"""

import ast
import copy
import json
import keyword
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
import types
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from importlib.resources import files
from pathlib import Path
from string import Template
from typing import Annotated, Any, Literal, Union, get_args, get_origin
from uuid import UUID

from pydantic import BaseModel
from pydantic.alias_generators import to_camel

from modulith.modules import Topology

LINE_LENGTH = 100
# Long enough for real names, short enough for the generated lines to fit in LINE_LENGTH.
MAX_NAME_LENGTH = 16
MAX_MODEL_LENGTH = 20
MODULE_NAME = re.compile(r"[a-z][a-z0-9]*(_[a-z0-9]+)*")
MODEL_NAME = re.compile(r"[A-Z][A-Za-z0-9]*")
# Names a module cannot take: its name is also a package, an app label and a database alias.
RESERVED = frozenset({"config", "contracts", "default", "modules", "modulith", "platform", "tests"})
FIRST_PARTY = frozenset({"config", "contracts", "modules", "modulith", "tests"})
TEMPLATES = files("modulith") / "scaffold_templates"
COMMAND_TIMEOUT = 180


class ScaffoldError(Exception):
    """The module cannot be scaffolded; the message says why and what to do, in one line."""


@dataclass(frozen=True)
class Names:
    """The names of a module's parts: `shipping` with model `Shipment` gives ShippingQueries,
    ShipmentCreated, shipment_create, ..."""

    name: str
    model: str

    @property
    def title(self) -> str:
        return self.name.replace("_", " ").capitalize()

    @property
    def possessive(self) -> str:
        return self.title + ("'" if self.title.endswith("s") else "'s")

    @property
    def camel(self) -> str:
        return "".join(word.capitalize() for word in self.name.split("_"))

    @property
    def entity(self) -> str:
        return snake(self.model)

    @property
    def plural(self) -> str:
        return pluralize(self.entity)

    @property
    def created(self) -> str:
        return f"{self.model}Created"

    @property
    def summary(self) -> str:
        return f"{self.model}Summary"

    @property
    def port(self) -> str:
        return f"{self.camel}Queries"

    @property
    def manifest(self) -> str:
        return f"modules.{self.name}.module.manifest"


@dataclass(frozen=True)
class Plan:
    """A checked request: what to create, and the events its handlers subscribe to."""

    names: Names
    handles: tuple[type[Any], ...]


@dataclass(frozen=True)
class Scaffolded:
    created: list[str]
    edited: list[str]
    notes: list[str]


def snake(camel: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", camel).lower()


def pluralize(word: str) -> str:
    if re.search(r"[^aeiou]y$", word):
        return word[:-1] + "ies"
    if re.search(r"(s|x|z|ch|sh)$", word):
        return word + "es"
    return word + "s"


def default_model(name: str) -> str:
    """The module's name in the singular, as a class name: `payments` gives Payment."""
    *words, last = name.split("_")
    if last.endswith("ies") and len(last) > 3:
        last = last[:-3] + "y"
    elif last.endswith("s") and not last.endswith("ss") and len(last) > 1:
        last = last[:-1]
    return "".join(word.capitalize() for word in [*words, last])


def plan(
    name: str,
    *,
    model: str | None,
    handles: Sequence[str],
    topology: Topology,
    taken: Sequence[str] = (),
) -> Plan:
    """Checks the request against the application; `taken` are app labels already in use."""
    if not MODULE_NAME.fullmatch(name) or keyword.iskeyword(name):
        raise ScaffoldError(
            f"{name!r} is not a module name: use lowercase letters, digits and single "
            "underscores, starting with a letter (e.g. shipping)"
        )
    if len(name) > MAX_NAME_LENGTH:
        raise ScaffoldError(f"{name!r} is too long: use at most {MAX_NAME_LENGTH} characters")
    if name in {module.name for module in topology.modules}:
        raise ScaffoldError(f"a module named {name!r} already exists: choose another name")
    if name in RESERVED or name in taken:
        raise ScaffoldError(f"{name!r} is already used by the project or Django: choose another")
    model = model or default_model(name)
    if not MODEL_NAME.fullmatch(model) or len(model) > MAX_MODEL_LENGTH:
        raise ScaffoldError(
            f"--model {model!r} is not a model name: use a class name of at most "
            f"{MAX_MODEL_LENGTH} characters (e.g. Shipment)"
        )
    names = Names(name=name, model=model)
    if topology.event_type(names.created) is not None:
        raise ScaffoldError(
            f"{names.created} is already published by {topology.publisher_of(names.created).name}"
            ": choose another model name with --model"
        )
    events = []
    for event_name in dict.fromkeys(handles):
        event_type = topology.event_type(event_name)
        if event_type is None:
            known = ", ".join(sorted(e.event_name for m in topology.modules for e in m.publishes))
            raise ScaffoldError(f"no module publishes {event_name!r}; known events: {known}")
        events.append(event_type)
    return Plan(names=names, handles=tuple(events))


def create(plan: Plan, *, root: Path, settings_module: str) -> Scaffolded:
    """Writes the module into the project at `root`, or changes nothing and raises."""
    names = plan.names
    new_files = render(plan)
    for relative in [
        f"modules/{names.name}",
        f"contracts/{names.name}",
        f"contracts/{names.name}.py",
        f"tests/modules/{names.name}",
    ]:
        if (root / relative).exists():
            raise ScaffoldError(f"{relative} already exists: remove it or choose another name")
    settings_file = root / (settings_module.replace(".", "/") + ".py")
    pyproject = root / "pyproject.toml"
    for required in (settings_file, pyproject, root / "manage.py"):
        if not required.is_file():
            raise ScaffoldError(f"{required} is missing: is {root} the project's root?")
    settings_text = add_manifest(settings_file.read_text(encoding="utf-8"), names.manifest)
    pyproject_text = add_to_independence(
        pyproject.read_text(encoding="utf-8"), f"modules.{names.name}"
    )

    changes = _Changes(root)
    with changes.undone_on_error():
        for relative, text in new_files.items():
            changes.create(relative, text)
        changes.edit(settings_file, settings_text)
        changes.edit(pyproject, pyproject_text)
        notes = _generate(root, names, changes)
    return Scaffolded(created=changes.created_files, edited=changes.edited_files, notes=notes)


def render(plan: Plan) -> dict[str, str]:
    """The new files, by path relative to the project's root."""
    names = plan.names
    values = {
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
        "manifest_imports": _manifest_imports(plan).render(),
        "handles": _manifest_handles(plan),
        "provides": _keyword_mapping(
            "provides", [f'{names.port}: "modules.{names.name}.queries.{names.port}Impl"']
        ),
        "event": call(
            8, f"event = {names.created}", [f"{names.entity}_id=record.id", "reference=reference"]
        ),
        "list_signature": call(
            0,
            f"def list_{names.plural}",
            ["request: HttpRequest", "filters: Query[ListFilter]"],
            f" -> list[{names.model}]:",
        ),
        **_handlers(plan),
        **_test_parts(plan),
    }
    module, tests = f"modules/{names.name}", f"tests/modules/{names.name}"
    sources = {
        f"{module}/__init__.py": "module/__init__.py",
        f"{module}/module.py": "module/module.py",
        f"{module}/apps.py": "module/apps.py",
        f"{module}/models.py": "module/models.py",
        f"{module}/services.py": "module/services.py",
        f"{module}/queries.py": "module/queries.py",
        f"{module}/api.py": "module/api.py",
        f"{module}/handlers.py": "module/handlers.py",
        f"contracts/{names.name}.py": "contracts/module.py",
        f"{tests}/test_{names.name}.py": "tests/test_module.py",
    }
    rendered = {path: _template(source).substitute(values) for path, source in sources.items()}
    return {
        **rendered,
        f"{module}/migrations/__init__.py": "",
        f"{tests}/__init__.py": "",
    }


def call(indent: int, head: str, arguments: Sequence[str], tail: str = "") -> str:
    """`head(arguments)tail` on one line when it fits, else one argument a line, the way the
    formatter lays it out (the trailing comma keeps it so)."""
    pad = " " * indent
    line = f"{pad}{head}({', '.join(arguments)}){tail}"
    if len(line) <= LINE_LENGTH:
        return line
    inner = "".join(f"{pad}    {argument},\n" for argument in arguments)
    return f"{pad}{head}(\n{inner}{pad}){tail}"


# Edits of the project's files: text in, text out, checked by parsing the result.


def add_manifest(source: str, manifest: str) -> str:
    """Settings source with `manifest` appended to the MODULITH_MANIFESTS list literal."""
    node = _manifests_node(source)
    current = ast.literal_eval(node)
    if manifest in current:
        return source
    lines = source.splitlines(keepends=True)
    end_line = node.end_lineno or node.lineno
    last = node.elts[-1] if node.elts else None
    if last and end_line > node.lineno and lines[end_line - 1].strip().startswith("]"):
        # One entry a line, the bracket on its own: a new line before the bracket.
        line, column = (last.end_lineno or last.lineno) - 1, last.end_col_offset or 0
        if not lines[line][column:].lstrip().startswith(","):
            lines[line] = f"{lines[line][:column]},{lines[line][column:]}"
        lines.insert(end_line - 1, f"{' ' * last.col_offset}{json.dumps(manifest)},\n")
        edited = "".join(lines)
    else:
        items = "".join(f"    {json.dumps(item)},\n" for item in [*current, manifest])
        start = sum(len(line) for line in lines[: node.lineno - 1]) + node.col_offset
        end = sum(len(line) for line in lines[: end_line - 1]) + (node.end_col_offset or 0)
        edited = f"{source[:start]}[\n{items}]{source[end:]}"
    if ast.literal_eval(_manifests_node(edited)) != [*current, manifest]:
        raise ScaffoldError(f"could not add {manifest} to MODULITH_MANIFESTS: add it by hand")
    return edited


def _manifests_node(source: str) -> ast.List:
    for statement in ast.parse(source).body:
        target = value = None
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
            target, value = statement.targets[0], statement.value
        elif isinstance(statement, ast.AnnAssign):
            target, value = statement.target, statement.value
        if isinstance(target, ast.Name) and target.id == "MODULITH_MANIFESTS":
            if isinstance(value, ast.List) and all(
                isinstance(item, ast.Constant) and isinstance(item.value, str)
                for item in value.elts
            ):
                return value
            break
    raise ScaffoldError(
        "the settings have no MODULITH_MANIFESTS = [...] list of strings: add the manifest by hand"
    )


def add_to_independence(source: str, package: str) -> str:
    """pyproject.toml source with `package` in the import-linter independence contract that
    lists the modules. Only that array is rewritten; the rest of the text is kept."""
    data = tomllib.loads(source)
    contracts = data.get("tool", {}).get("importlinter", {}).get("contracts", [])
    position = next(
        (
            index
            for index, contract in enumerate(contracts)
            if contract.get("type") == "independence"
            and any(str(m).startswith("modules.") for m in contract.get("modules", []))
        ),
        None,
    )
    if position is None:
        raise ScaffoldError(
            "pyproject.toml has no import-linter independence contract listing modules.*: "
            f"add one with {package} in it"
        )
    listed: list[str] = contracts[position]["modules"]
    if package in listed:
        return source
    headers = list(re.finditer(r"^\[\[tool\.importlinter\.contracts\]\][ \t]*$", source, re.M))
    if len(headers) != len(contracts):
        raise ScaffoldError(f"could not find the independence contract's text: add {package}")
    start = headers[position].end()
    following = re.compile(r"^\[", re.M).search(source, start)
    end = following.start() if following else len(source)
    array = re.compile(r"^(modules[ \t]*=[ \t]*)\[(.*?)\]", re.M | re.S).search(source, start, end)
    if array is None:
        raise ScaffoldError(f"could not find the independence contract's modules: add {package}")
    updated = sorted([*listed, package]) if listed == sorted(listed) else [*listed, package]
    replacement = f"{array.group(1)}[{', '.join(json.dumps(m) for m in updated)}]"
    if "\n" in array.group(0) or len(replacement) > LINE_LENGTH:
        items = "".join(f"    {json.dumps(m)},\n" for m in updated)
        replacement = f"{array.group(1)}[\n{items}]"
    edited = source[: array.start()] + replacement + source[array.end() :]
    expected = copy.deepcopy(data)
    expected["tool"]["importlinter"]["contracts"][position]["modules"] = updated
    if tomllib.loads(edited) != expected:
        raise ScaffoldError(f"could not add {package} to pyproject.toml: add it by hand")
    return edited


# The generated code's variable parts.


@dataclass
class Imports:
    """An import block sorted the way ruff's isort rules want it."""

    straight: set[str] = field(default_factory=set)
    members: dict[str, set[str]] = field(default_factory=dict)

    def add(self, module: str, *names: str) -> "Imports":
        if names:
            self.members.setdefault(module, set()).update(names)
        else:
            self.straight.add(module)
        return self

    def render(self) -> str:
        sections: dict[int, list[str]] = {}
        for module in sorted(self.straight, key=str.lower):
            sections.setdefault(_section(module), []).append(f"import {module}")
        for module in sorted(self.members, key=str.lower):
            names = sorted(self.members[module], key=_member_order)
            line = f"from {module} import {', '.join(names)}"
            if len(line) > LINE_LENGTH:
                line = f"from {module} import (\n" + "".join(f"    {n},\n" for n in names) + ")"
            sections.setdefault(_section(module), []).append(line)
        return "\n\n".join("\n".join(sections[key]) for key in sorted(sections))


def _section(module: str) -> int:
    top = module.split(".")[0]
    if top in sys.stdlib_module_names:
        return 0
    return 2 if top in FIRST_PARTY else 1


def _member_order(name: str) -> tuple[int, str, str]:
    kind = 0 if name.isupper() and len(name) > 1 else 1 if name[0].isupper() else 2
    return kind, name.lower(), name


def _manifest_imports(plan: Plan) -> Imports:
    imports = Imports().add("modulith", "Module")
    imports.add(f"contracts.{plan.names.name}", plan.names.created, plan.names.port)
    for event in plan.handles:
        imports.add(event.__module__, event.__name__)
    return imports


def _manifest_handles(plan: Plan) -> str:
    if not plan.handles:
        return ""
    return _keyword_mapping(
        "handles",
        [
            f'{event.__name__}: "modules.{plan.names.name}.handlers.{_handler(event)}"'
            for event in plan.handles
        ],
    )


def _keyword_mapping(keyword: str, entries: Sequence[str]) -> str:
    """A manifest's `keyword={...},` line: one entry that fits on one line, else one a line."""
    line = f"    {keyword}={{{entries[0]}}},\n"
    if len(entries) == 1 and len(line) <= LINE_LENGTH + 1:
        return line
    return f"    {keyword}={{\n" + "".join(f"        {entry},\n" for entry in entries) + "    },\n"


def _handler(event: type[Any]) -> str:
    return f"on_{snake(event.event_name)}"


def _reference(event: type[Any]) -> str:
    """What a handler records as the reference: the event's first id, else its first text."""
    fields = event.model_fields
    for name, info in fields.items():
        if info.annotation is UUID:
            return f"str(event.{name})"
    for name, info in fields.items():
        if info.annotation is str:
            return f"event.{name}"
    return "event.event_name"


def _handlers(plan: Plan) -> dict[str, str]:
    names = plan.names
    if not plan.handles:
        return {
            "no_handlers": "\n\nNone yet: add `on_<event>(event: <Event>) -> None` here and name "
            "it in module.py.\n",
            "body": "",
        }
    imports = Imports().add(f"modules.{names.name}", "services")
    functions = []
    for event in plan.handles:
        imports.add(event.__module__, event.__name__)
        functions.append(
            f"\n\ndef {_handler(event)}(event: {event.__name__}) -> None:\n"
            f"{call(4, f'services.{names.entity}_create', [f'reference={_reference(event)}'])}\n"
        )
    return {"no_handlers": "", "body": "\n" + imports.render() + "\n" + "".join(functions)}


def _test_parts(plan: Plan) -> dict[str, str]:
    names = plan.names
    imports = Imports()
    imports.add("typing", "Any").add("pytest").add("django.test", "Client")
    imports.add(f"contracts.{names.name}", names.port)
    imports.add(f"modules.{names.name}", "services")
    imports.add(f"modules.{names.name}.models", names.model)
    imports.add("modulith.outbox.models", "OutboxEvent").add("modulith.ports", "query_port")
    if not plan.handles:
        return {"test_imports": imports.render(), "delivery_helpers": "", "handler_tests": ""}
    imports.add("uuid", "uuid4").add("django.utils", "timezone")
    imports.add("modulith.bus", "Envelope").add("modulith.runtime", "runtime")
    tests = []
    for event in plan.handles:
        imports.add(event.__module__, event.__name__)
        arguments = [
            f"{name}={_example(info.annotation, imports)}"
            for name, info in event.model_fields.items()
            if info.is_required()
        ]
        tests.append(
            f"\n\ndef test_{snake(event.event_name)}_records_a_{names.entity}() -> None:\n"
            '    """Once, even when the event is delivered again."""\n'
            f"{call(4, f'event = {event.__name__}', arguments)}\n"
            "    envelope = envelope_of(event)\n\n"
            "    deliver(envelope)\n"
            "    deliver(envelope)\n\n"
            f"    [record] = {names.model}.objects.all()\n"
            f"    assert record.reference == {_reference(event)}\n"
        )
    helpers = _template("tests/delivery.py").substitute(name=names.name)
    return {
        "test_imports": imports.render(),
        "delivery_helpers": "\n\n" + helpers.rstrip("\n") + "\n",
        "handler_tests": "".join(tests),
    }


def _example(annotation: Any, imports: Imports) -> str:
    """A Python expression of a valid value of `annotation`, for a generated test."""
    origin, arguments = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return _example(arguments[0], imports)
    if origin is Literal:
        value = arguments[0]
        return json.dumps(value) if isinstance(value, str) else repr(value)
    if origin in (Union, types.UnionType):
        return "None" if type(None) in arguments else _example(arguments[0], imports)
    if origin in (list, tuple, set, frozenset) or annotation in (list, tuple, set, frozenset):
        return "[]"
    if origin is dict or annotation is dict:
        return "{}"
    simple = {str: '"example"', bool: "True", int: "1", float: "1.0"}
    if annotation in simple:
        return simple[annotation]
    if annotation is UUID:
        imports.add("uuid", "uuid4")
        return "uuid4()"
    if annotation is Decimal:
        imports.add("decimal", "Decimal")
        return 'Decimal("1.00")'
    if annotation is datetime:
        imports.add("django.utils", "timezone")
        return "timezone.now()"
    if annotation is date:
        imports.add("datetime", "date")
        return "date(2000, 1, 1)"
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        imports.add(annotation.__module__, annotation.__name__)
        return f"{annotation.__name__}.{next(iter(annotation)).name}"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        imports.add(annotation.__module__, annotation.__name__)
        values = [
            f"{name}={_example(info.annotation, imports)}"
            for name, info in annotation.model_fields.items()
            if info.is_required()
        ]
        return f"{annotation.__name__}({', '.join(values)})"
    raise ScaffoldError(
        f"cannot make an example {annotation!r} for the generated tests: handle this event "
        "by hand, or give the field a default"
    )


def _template(name: str) -> Template:
    return Template((TEMPLATES / f"{name}.tmpl").read_text(encoding="utf-8"))


# Producing the migration, the stored schemas and the module map in a process that sees the
# new module, on throwaway databases.


def _generate(root: Path, names: Names, changes: "_Changes") -> list[str]:
    notes = []
    with tempfile.TemporaryDirectory(prefix="startmodule-") as var_dir:
        env = _project_env(root, Path(var_dir))
        _manage(root, env, "makemigrations", names.name, "--noinput")
        changes.track(f"modules/{names.name}/migrations/0001_initial.py")
        migration = root / "modules" / names.name / "migrations" / "0001_initial.py"
        if not _ruff_format(root, migration):
            notes.append(f"{migration.relative_to(root)} is not formatted: ruff was not found")
        schemas = root / "contracts" / "schemas"
        changes.remember_directory(schemas)
        _manage(root, env, "contracts", "write")
        changes.track(f"contracts/schemas/{names.created}.json")
        module_map = root / "docs" / "modules.md"
        if module_map.is_file():
            changes.edit(module_map, _manage(root, env, "modules", "--format", "markdown"))
        else:
            notes.append("docs/modules.md does not exist: not generated")
    return notes


def _project_env(root: Path, var_dir: Path) -> dict[str, str]:
    """This environment without deployment choices: every module runs, in process, on SQLite
    files under `var_dir`."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("MODULITH_") and not key.endswith("DATABASE_URL")
    }
    env["MODULITH_VAR_DIR"] = str(var_dir)
    env["PYTHONPATH"] = os.pathsep.join([str(root), str(root / "platform")])
    return env


def _manage(root: Path, env: dict[str, str], *arguments: str) -> str:
    command = ["manage.py", *arguments]
    try:
        result = subprocess.run(
            [sys.executable, *command],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ScaffoldError(f"{' '.join(command)} took over {COMMAND_TIMEOUT} s") from None
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise ScaffoldError(f"{' '.join(command)} failed: {last}")
    return result.stdout


def _ruff_format(root: Path, path: Path) -> bool:
    """Django writes migrations in its own style: sorts their imports and formats them."""
    beside = Path(sys.executable).with_name("ruff")
    ruff = str(beside) if beside.is_file() else shutil.which("ruff")
    if ruff is None:
        return False
    steps = [["check", "--fix", "--select", "I", "--quiet"], ["format", "--quiet"]]
    results = [
        subprocess.run([ruff, *step, str(path)], cwd=root, timeout=60, check=False)
        for step in steps
    ]
    return all(result.returncode == 0 for result in results)


class _Changes:
    """What the scaffolding did to the project, so that a failure can undo it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._created: list[Path] = []  # files and the directories made for them, in order
        self._tracked: list[Path] = []  # files written by the project's commands
        self._edited: dict[Path, str] = {}
        self._directories: dict[Path, dict[str, str]] = {}

    @property
    def created_files(self) -> list[str]:
        files = [p for p in [*self._created, *self._tracked] if p.is_file()]
        return [p.relative_to(self.root).as_posix() for p in files]

    @property
    def edited_files(self) -> list[str]:
        return [p.relative_to(self.root).as_posix() for p in self._edited]

    def create(self, relative: str, text: str) -> None:
        path = self.root / relative
        missing = [p for p in reversed(path.parents) if not p.exists()]
        for directory in missing:
            directory.mkdir()
            self._created.append(directory)
        path.write_text(text, encoding="utf-8")
        self._created.append(path)

    def track(self, relative: str) -> None:
        self._tracked.append(self.root / relative)

    def edit(self, path: Path, text: str) -> None:
        self._edited.setdefault(path, path.read_text(encoding="utf-8"))
        path.write_text(text, encoding="utf-8")

    def remember_directory(self, directory: Path) -> None:
        """Keeps the directory's files, to restore them (and only them) on failure."""
        if not directory.exists():
            self._created.append(directory)
        self._directories[directory] = {
            path.name: path.read_text(encoding="utf-8")
            for path in directory.glob("*")
            if path.is_file()
        }

    @contextmanager
    def undone_on_error(self) -> Iterator[None]:
        try:
            yield
        except BaseException:
            self._undo()
            raise

    def _undo(self) -> None:
        for directory, kept in self._directories.items():
            for path in directory.glob("*"):
                if path.is_file() and path.name not in kept:
                    path.unlink()
            for name, text in kept.items():
                (directory / name).write_text(text, encoding="utf-8")
        for path, text in self._edited.items():
            path.write_text(text, encoding="utf-8")
        for path in reversed(self._created):
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
