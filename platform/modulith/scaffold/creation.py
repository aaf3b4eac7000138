"""Writing a planned module into the project, or changing nothing."""

from dataclasses import dataclass
from pathlib import Path

from modulith.scaffold.changes import Changes
from modulith.scaffold.errors import ScaffoldError
from modulith.scaffold.generate import generate
from modulith.scaffold.pyproject_edit import add_to_independence
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
    names = plan.names
    new_files = render(plan)
    _check_free(root, names.name)
    settings_file = root / (settings_module.replace(".", "/") + ".py")
    pyproject = root / "pyproject.toml"
    for required in (settings_file, pyproject, root / "manage.py"):
        if not required.is_file():
            raise ScaffoldError(f"{required} is missing: is {root} the project's root?")
    settings_text = add_manifest(settings_file.read_text(encoding="utf-8"), names.manifest)
    pyproject_text = add_to_independence(
        pyproject.read_text(encoding="utf-8"), f"modules.{names.name}"
    )

    changes = Changes(root)
    with changes.undone_on_error():
        for relative, text in new_files.items():
            changes.create(relative, text)
        changes.edit(settings_file, settings_text)
        changes.edit(pyproject, pyproject_text)
        notes = generate(root, names, changes)
    return Scaffolded(created=changes.created_files, edited=changes.edited_files, notes=notes)


def _check_free(root: Path, name: str) -> None:
    for relative in [
        f"modules/{name}",
        f"contracts/{name}",
        f"contracts/{name}.py",
        f"tests/modules/{name}",
    ]:
        if (root / relative).exists():
            raise ScaffoldError(f"{relative} already exists: remove it or choose another name")
