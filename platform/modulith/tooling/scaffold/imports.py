"""An import block of generated code, sorted the way ruff's isort rules want it."""

import sys
from dataclasses import dataclass, field

from modulith.tooling.scaffold.layout import LINE_LENGTH, one_a_line

FIRST_PARTY = frozenset({"config", "contracts", "modules", "modulith", "tests"})


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
            line = _from_import(module, sorted(self.members[module], key=_member_order))
            sections.setdefault(_section(module), []).append(line)
        return "\n\n".join("\n".join(sections[key]) for key in sorted(sections))


def _from_import(module: str, names: list[str]) -> str:
    line = f"from {module} import {', '.join(names)}"
    if len(line) > LINE_LENGTH:
        return f"from {module} import (\n{one_a_line(names, '    ')})"
    return line


def _section(module: str) -> int:
    top = module.split(".")[0]
    if top in sys.stdlib_module_names:
        return 0
    return 2 if top in FIRST_PARTY else 1


def _member_order(name: str) -> tuple[int, str, str]:
    kind = 0 if name.isupper() and len(name) > 1 else 1 if name[0].isupper() else 2
    return kind, name.lower(), name
