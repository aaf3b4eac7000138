"""Producing the migration, the stored schemas and the module map in a process that sees the
new module, on throwaway databases."""

import tempfile
from pathlib import Path

from modulith.scaffold.changes import Changes
from modulith.scaffold.project_commands import manage, project_env, ruff_format
from modulith.scaffold.request import Plan


def generate(root: Path, plan: Plan, changes: Changes) -> list[str]:
    """Runs the project's commands; returns notes on what could not be done."""
    names = plan.names
    notes = []
    with tempfile.TemporaryDirectory(prefix="startmodule-") as var_dir:
        env = project_env(root, Path(var_dir))
        manage(root, env, "makemigrations", names.name, "--noinput")
        changes.track(f"{plan.directory}/migrations/0001_initial.py")
        migration = root / plan.directory / "migrations" / "0001_initial.py"
        if not ruff_format(root, migration):
            notes.append(f"{migration.relative_to(root)} is not formatted: ruff was not found")
        changes.remember_directory(root / "contracts" / "schemas")
        manage(root, env, "contracts", "write")
        changes.track(f"contracts/schemas/{names.created}.json")
        module_map = root / "docs" / "modules.md"
        if module_map.is_file():
            changes.edit(module_map, manage(root, env, "modules", "--format", "markdown"))
        else:
            notes.append("docs/modules.md does not exist: not generated")
    return notes
