"""Adding a module to pyproject.toml's import-linter independence contract: text in, text
out, checked by parsing the result."""

import copy
import json
import re
import tomllib
from typing import Any

from modulith.scaffold.errors import ScaffoldError
from modulith.scaffold.layout import LINE_LENGTH, one_a_line


def add_to_independence(source: str, package: str) -> str:
    """pyproject.toml source with `package` in the import-linter independence contract that
    lists the modules. Only that array is rewritten; the rest of the text is kept."""
    data = tomllib.loads(source)
    contracts = data.get("tool", {}).get("importlinter", {}).get("contracts", [])
    position = _independence_position(contracts, package)
    listed: list[str] = contracts[position]["modules"]
    if package in listed:
        return source
    array = _modules_array(source, position, len(contracts), package)
    updated = sorted([*listed, package]) if listed == sorted(listed) else [*listed, package]
    replacement = f"{array.group(1)}[{', '.join(json.dumps(m) for m in updated)}]"
    if "\n" in array.group(0) or len(replacement) > LINE_LENGTH:
        items = one_a_line(map(json.dumps, updated), "    ")
        replacement = f"{array.group(1)}[\n{items}]"
    edited = source[: array.start()] + replacement + source[array.end() :]
    expected = copy.deepcopy(data)
    expected["tool"]["importlinter"]["contracts"][position]["modules"] = updated
    if tomllib.loads(edited) != expected:
        raise ScaffoldError(f"could not add {package} to pyproject.toml: add it by hand")
    return edited


def has_independence(source: str) -> bool:
    """Whether pyproject.toml's text holds an independence contract that lists modules.*."""
    try:
        data = tomllib.loads(source)
    except tomllib.TOMLDecodeError:
        return False
    contracts = data.get("tool", {}).get("importlinter", {}).get("contracts", [])
    try:
        _independence_position(contracts, "")
    except ScaffoldError:
        return False
    return True


def _independence_position(contracts: list[dict[str, Any]], package: str) -> int:
    """Which of the contracts is the independence contract that lists the modules."""
    for index, contract in enumerate(contracts):
        modules = contract.get("modules", [])
        if contract.get("type") == "independence" and any(
            str(m).startswith("modules.") for m in modules
        ):
            return index
    raise ScaffoldError(
        "pyproject.toml has no import-linter independence contract listing modules.*: "
        f"add one with {package} in it"
    )


def _modules_array(source: str, position: int, count: int, package: str) -> re.Match[str]:
    """The `modules = [...]` text of the contract at `position` of the `count` contracts."""
    headers = list(re.finditer(r"^\[\[tool\.importlinter\.contracts\]\][ \t]*$", source, re.M))
    if len(headers) != count:
        raise ScaffoldError(f"could not find the independence contract's text: add {package}")
    start = headers[position].end()
    following = re.compile(r"^\[", re.M).search(source, start)
    end = following.start() if following else len(source)
    array = re.compile(r"^(modules[ \t]*=[ \t]*)\[(.*?)\]", re.M | re.S).search(source, start, end)
    if array is None:
        raise ScaffoldError(f"could not find the independence contract's modules: add {package}")
    return array
