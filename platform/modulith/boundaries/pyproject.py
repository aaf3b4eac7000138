"""The boundaries contract in pyproject.toml: written between two marker lines, the rest of
the file kept as it is, and the result parsed back to prove it."""

import json
import re
import tomllib
from typing import Any

from modulith.boundaries.baseline import Baseline
from modulith.errors import ConfigurationError

CONTRACT_ID = "modulith-boundaries"
BEGIN = (
    "# --- modulith boundaries: written by `manage.py boundaries`; the baseline only shrinks ---"
)
END = "# --- end of modulith boundaries ---"
BLOCK = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END) + r"\n?", re.S)


def written_baseline(source: str) -> set[str] | None:
    """The ignore_imports of the boundaries contract the file holds (None: it holds none)."""
    for contract in _contracts(tomllib.loads(source)):
        if contract.get("id") == CONTRACT_ID:
            return set(contract.get("ignore_imports", []))
    return None


def with_contract(source: str, baseline: Baseline) -> str:
    """pyproject.toml's text with the boundaries contract for `baseline`."""
    body = BLOCK.sub("", source)
    kept = tomllib.loads(body)
    if written_baseline(body) is not None:
        raise ConfigurationError(
            f"pyproject.toml has a contract with the id {CONTRACT_ID!r} outside the lines "
            "manage.py boundaries writes: remove it, and run this again"
        )
    lines = [BEGIN]
    if "importlinter" not in kept.get("tool", {}):
        lines += ["[tool.importlinter]", f"root_packages = {_array(baseline.root_packages)}", ""]
    else:
        missing = set(baseline.root_packages) - set(_roots(kept))
        if missing:
            raise ConfigurationError(
                f"add {', '.join(sorted(missing))} to [tool.importlinter] root_packages in "
                "pyproject.toml: the boundaries contract covers them"
            )
    lines += [
        "[[tool.importlinter.contracts]]",
        f'id = "{CONTRACT_ID}"',
        "name = \"Modules and the project's apps are independent (today's imports across them "
        'are the baseline)"',
        'type = "independence"',
        f"modules = {_array(baseline.units)}",
        # A baseline line that no longer matches an import fails: delete it, never re-add.
        'unmatched_ignore_imports_alerting = "error"',
        f"ignore_imports = {_array(baseline.ignored)}",
        END,
    ]
    edited = body.rstrip("\n") + ("\n\n" if body.strip() else "") + "\n".join(lines) + "\n"
    if written_baseline(edited) != set(baseline.ignored):
        raise ConfigurationError("could not write the boundaries contract to pyproject.toml")
    return edited


def _contracts(data: dict[str, Any]) -> list[dict[str, Any]]:
    contracts: list[dict[str, Any]] = (
        data.get("tool", {}).get("importlinter", {}).get("contracts", [])
    )
    return contracts


def _roots(data: dict[str, Any]) -> list[str]:
    linter = data.get("tool", {}).get("importlinter", {})
    roots = linter.get("root_packages") or (
        [linter["root_package"]] if "root_package" in linter else []
    )
    return [str(root) for root in roots]


def _array(items: tuple[str, ...]) -> str:
    if not items:
        return "[]"
    return "[\n" + "".join(f"    {json.dumps(item)},\n" for item in items) + "]"
