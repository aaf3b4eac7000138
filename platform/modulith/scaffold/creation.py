"""Writing a planned module into the project, or changing nothing."""

from dataclasses import dataclass
from pathlib import Path

from modulith.scaffold.changes import Changes
from modulith.scaffold.errors import ScaffoldError
from modulith.scaffold.generate import generate
from modulith.scaffold.pyproject_edit import add_to_independence, has_independence
from modulith.scaffold.rendering import render
from modulith.scaffold.request import Plan
from modulith.scaffold.settings_edit import add_manifest


@dataclass(frozen=True)
class Scaffolded:
    created: list[str]
    edited: list[str]
    notes: list[str]


def create(plan: Plan, *, root: Path, settings_module: str) -> Scaffolded:
    """Writes the module into the project at `root`, or changes nothing and raises."""
    new_files = render(plan)
    if not (root / "contracts" / "__init__.py").is_file():
        new_files["contracts/__init__.py"] = ""  # the language modules share, beside them
    _check_free(root, plan)
    settings_file = project_file(root, settings_module)
    settings_text = add_manifest(settings_file.read_text(encoding="utf-8"), plan.manifest)
    pyproject, notes = contract_edit(root, plan.package)

    changes = Changes(root)
    with changes.undone_on_error():
        for relative, text in new_files.items():
            changes.create(relative, text)
        changes.edit(settings_file, settings_text)
        if pyproject:
            changes.edit(*pyproject)
        notes += generate(root, plan, changes)
    return Scaffolded(created=changes.created_files, edited=changes.edited_files, notes=notes)


def project_file(root: Path, settings_module: str) -> Path:
    """The settings module's file, in a project whose root is `root`."""
    settings_file = root / (settings_module.replace(".", "/") + ".py")
    for required in (settings_file, root / "manage.py"):
        if not required.is_file():
            raise ScaffoldError(f"{required} is missing: is {root} the project's root?")
    return settings_file


def contract_edit(root: Path, package: str) -> tuple[tuple[Path, str] | None, list[str]]:
    """The edit of pyproject.toml that puts the package in the import-linter independence
    contract of the modules, if the project has one; else a note saying how to get one."""
    pyproject = root / "pyproject.toml"
    source = pyproject.read_text(encoding="utf-8") if pyproject.is_file() else ""
    if not has_independence(source):
        return None, [
            "no import-linter contract lists the modules: manage.py boundaries writes one "
            "for the modules and the project's apps"
        ]
    return (pyproject, add_to_independence(source, package)), []


def _check_free(root: Path, plan: Plan) -> None:
    name = plan.names.name
    for relative in [plan.directory, f"contracts/{name}", f"contracts/{name}.py", plan.tests]:
        if (root / relative).exists():
            raise ScaffoldError(f"{relative} already exists: remove it or choose another name")
