"""Turning one of the project's apps into a module, in place: its package, label, models and
tables stay as they are; it gets a manifest placing it in the database it shares with the
project's other apps (where its tables are), and a line in MODULITH_MANIFESTS."""

from pathlib import Path

from django.apps import AppConfig

from modulith.modules import Topology
from modulith.scaffold.changes import Changes
from modulith.scaffold.creation import Scaffolded, contract_edit, project_file
from modulith.scaffold.errors import ScaffoldError
from modulith.scaffold.names import Names
from modulith.scaffold.request import check_name
from modulith.scaffold.settings_edit import add_manifest
from modulith.scaffold.templates import template


def adopt_app(
    config: AppConfig, *, root: Path, settings_module: str, database: str, topology: Topology
) -> Scaffolded:
    """Makes the app a module, or changes nothing and raises."""
    name = config.label
    check_name(name, topology)
    directory = Path(config.path).resolve()
    if not directory.is_relative_to(root):
        raise ScaffoldError(
            f"{name}'s code is not the project's ({directory}): only the project's own apps "
            "become modules"
        )
    manifest_file = directory / "module.py"
    if manifest_file.exists():
        raise ScaffoldError(f"{manifest_file.relative_to(root)} exists already: rename it first")
    names = Names(name=name, model="")
    text = template("module/existing.py").substitute(
        name=name, Title=names.title, Titles=names.possessive, app=config.name, database=database
    )
    settings_file = project_file(root, settings_module)
    manifest = f"{config.name}.module.manifest"
    settings_text = add_manifest(settings_file.read_text(encoding="utf-8"), manifest, create=True)
    pyproject, notes = contract_edit(root, config.name)

    changes = Changes(root)
    with changes.undone_on_error():
        changes.create(manifest_file.relative_to(root).as_posix(), text)
        changes.edit(settings_file, settings_text)
        if pyproject:
            changes.edit(*pyproject)
    return Scaffolded(created=changes.created_files, edited=changes.edited_files, notes=notes)
