"""docs/settings.md and the settings model agree: every setting has a row and every row a
setting, and the default a row states first is the model's."""

import re
from datetime import timedelta
from pathlib import Path

from modulith.conf import ModulithSettings
from modulith.conf.keys import SigningKeys
from modulith.conf.settings import (
    DEPENDENT_DEFAULTS,
    ENVIRONMENT_ONLY,
    MANIFESTS,
    setting_name,
)

REFERENCE = Path(__file__).resolve().parents[3] / "docs" / "settings.md"
# The table of the variables read before Django's settings exist.
ENVIRONMENT_SECTION = "Read before Django's settings exist"
NAME = re.compile(r"`(MODULITH_[A-Z0-9_]+)`")


def documented() -> dict[str, dict[str, str]]:
    """Each section's MODULITH_* settings, named in the first cell of a table row, with the
    row's default cell (a row naming several splits it at its commas, one part each)."""
    sections: dict[str, dict[str, str]] = {}
    section = ""
    for line in REFERENCE.read_text().splitlines():
        if line.startswith("## "):
            section = line.removeprefix("## ")
        elif line.startswith("| `") and NAME.search(line.split(" | ")[0]):
            first, default = (cell.strip() for cell in line.strip("|").split(" | ")[:2])
            names = NAME.findall(first)
            parts = default.split(", ") if len(names) > 1 else [default]
            assert len(parts) == len(names), line
            sections.setdefault(section, {}).update(zip(names, parts, strict=True))
    return sections


def written(default: object) -> str:
    """A default as the reference writes it."""
    if default is None or default in ("", (), {}, SigningKeys()):
        return "none"
    if isinstance(default, bool):
        return "on" if default else "off"
    if isinstance(default, timedelta):
        seconds = int(default.total_seconds())
        units = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))
        unit, size = next((unit, size) for unit, size in units if seconds % size == 0)
        return f"`{seconds // size}{unit}`"
    if isinstance(default, int):
        return f"`{default}`"
    if isinstance(default, float):
        return f"`{default:g}`"
    if isinstance(default, tuple):
        return f"`{','.join(default)}`"
    return f"`{default}`"


def settings_rows() -> dict[str, str]:
    return {
        name: default
        for section, rows in documented().items()
        if section != ENVIRONMENT_SECTION
        for name, default in rows.items()
    }


def test_every_setting_has_a_row_and_every_row_is_a_setting() -> None:
    fields = {setting_name(field) for field in ModulithSettings.model_fields}

    # The manifests are no setting of their own: the topology is loaded from them.
    assert set(settings_rows()) == fields | {MANIFESTS}
    assert set(documented()[ENVIRONMENT_SECTION]) == ENVIRONMENT_ONLY


def test_each_row_states_the_model_s_default_first() -> None:
    rows = settings_rows()
    wrong = {
        name: (rows[name], written(field.default))
        for name, field in ((setting_name(f), i) for f, i in ModulithSettings.model_fields.items())
        if not field.is_required() and not rows.get(name, "").startswith(written(field.default))
    }

    assert wrong == {}


def test_a_default_that_depends_on_where_the_process_runs_says_when_after_a_semicolon() -> None:
    rows = settings_rows()
    silent = [
        setting_name(field)
        for field in DEPENDENT_DEFAULTS
        if field != "topology" and ";" not in rows[setting_name(field)]
    ]

    assert silent == []
