"""Where a new module goes in a project: the project's own layout, not the shop's."""

from pathlib import Path


def new_module_places(root: Path, name: str) -> tuple[str, str]:
    """The new module's package and its tests' directory: in the shop's layout when the
    project has a `modules` directory (`modules.<name>`, `tests/modules/<name>`), else beside the
    project's apps at its root, as `startapp` puts them (`<name>`, `<name>/tests`)."""
    if (root / "modules").is_dir():
        return f"modules.{name}", f"tests/modules/{name}"
    return name, f"{name}/tests"
