"""Event schema compatibility: what each published event looks like, and which changes break it.

An event's schema is its pydantic JSON schema with the wire names (camelCase), tagged with
`x-event-name`, `x-schema-version` and `x-publisher`. The stored schemas (`manage.py contracts
write`) are the record of what has been published. A change within one major version must let
a reader of either version read the other's data: it may add optional fields, nothing else
that a reader would notice. Removing or renaming a field, adding a required one, making an
optional one required, changing a type, or dropping an allowed value needs a new major version,
which readers of the old one refuse (`modulith.bus.dispatch`), and an upcaster from the stored
major version, which lets readers of the new one read events of the old
(`modulith.contracts.evolution`; the schema's `x-readable-from` is the oldest major version the
chain of upcasters leads from). A gap in that chain is a problem of its own.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from modulith.contracts.evolution import evolution_problems, readable_from
from modulith.modules import Topology

Schema = dict[str, Any]

# Keywords that narrow a value; changing one changes what a reader accepts.
_CONSTRAINTS = (
    "format",
    "pattern",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "multipleOf",
)


@dataclass(frozen=True)
class Breaking:
    """One incompatible change, at a dotted path of wire names (`items[].unitPrice`)."""

    field: str
    change: str

    def __str__(self) -> str:
        return f"field {self.field} {self.change}"


@dataclass(frozen=True)
class Problem:
    """One line of `contracts check`. `write` refuses to record a breaking one; the others
    only say that the stored record is behind the code."""

    text: str
    breaking: bool = True

    def __str__(self) -> str:
        return self.text


def current_schemas(topology: Topology) -> dict[str, Schema]:
    """The schema of every event that a module of the topology publishes, by event name."""
    return {
        event_type.event_name: event_schema(event_type, module.name)
        for module in topology.modules
        for event_type in module.publishes
    }


def event_schema(event_type: type[Any], publisher: str) -> Schema:
    schema: Schema = event_type.model_json_schema(by_alias=True)
    evolution: Schema = {"x-readable-from": readable_from(event_type)}
    if event_type.former_names:
        evolution["x-former-names"] = dict(sorted(event_type.former_names.items()))
    return (
        schema
        | {
            "x-event-name": event_type.event_name,
            "x-schema-version": event_type.schema_version,
            "x-publisher": publisher,
        }
        | evolution
    )


def chain_problems(topology: Topology) -> list[Problem]:
    """A gap, or a step that cannot be, in a published event's upcasters or downcasters."""
    return [
        Problem(problem)
        for module in topology.modules
        for event_type in module.publishes
        for problem in evolution_problems(event_type)
    ]


def compare(old: Schema, new: Schema) -> list[Breaking]:
    """What in `new` breaks readers or data of `old` (an empty list: compatible)."""
    comparison = _Comparison(old, new)
    return comparison.objects(comparison.resolve(old, 0), comparison.resolve(new, 1), "")


def problems(stored: Mapping[str, Schema], current: Mapping[str, Schema]) -> list[Problem]:
    """Everything that differs between the stored schemas and the current ones, by event."""
    found: list[Problem] = []
    for name in sorted(stored.keys() | current.keys()):
        old, new = stored.get(name), current.get(name)
        if new is None:
            text = f"{name} {_version_text(old)}: event {name} was removed"
            found.append(Problem(f"{text} (delete its stored schema to accept that)"))
        elif old is None:
            found.append(
                Problem(f"new event {name}: run `manage.py contracts write`", breaking=False)
            )
        else:
            found += _changes(name, old, new)
    return found


def _changes(name: str, old: Schema, new: Schema) -> list[Problem]:
    stored_version, version = _version_text(old), _version_text(new)
    label = f"{name} {version}"
    before, after = _version(old), _version(new)
    if after is None:
        return [Problem(f"{label}: the schema version is not MAJOR.MINOR")]
    if before is None:
        return [Problem(f"{label}: the stored schema version is not MAJOR.MINOR")]
    if after < before:
        return [Problem(f"{label}: the schema version went down from {stored_version}")]
    if after[0] == before[0]:
        allowed = f"raise the major schema version ({before[0] + 1}.0) to allow it"
        broken = [Problem(f"{label}: {change}; {allowed}") for change in compare(old, new)]
        if broken:
            return broken
    elif new.get("x-readable-from", after[0]) > before[0]:
        step = new.get("x-readable-from", after[0]) - 1
        return [
            Problem(
                f"{label}: no upcaster leads from the stored version {stored_version}, so events "
                f"already published as {before[0]}.x could not be read; declare "
                f"upcasters[{step}] (version {step} to {step + 1}) on its contract"
            )
        ]
    if old != new:
        text = (
            f"{label}: the stored schema ({stored_version}) is out of date; "
            "run `manage.py contracts write`"
        )
        return [Problem(text, breaking=False)]
    return []


def _version_text(schema: Schema | None) -> str:
    return str((schema or {}).get("x-schema-version", "?"))


def _version(schema: Schema) -> tuple[int, int] | None:
    major, _, minor = _version_text(schema).partition(".")
    if not (major.isdigit() and minor.isdigit()):
        return None
    return int(major), int(minor)


class _Comparison:
    """Walks two schemas side by side; `$ref`s resolve in the schema they come from."""

    def __init__(self, old_root: Schema, new_root: Schema) -> None:
        self.roots = (old_root, new_root)
        self.within: list[tuple[Schema, Schema]] = []  # the objects being compared

    def objects(self, old: Schema, new: Schema, path: str) -> list[Breaking]:
        if any(old is outer and new is inner for outer, inner in self.within):
            return []  # a model that contains itself: compared already, further up
        self.within.append((old, new))
        try:
            return self.fields(old, new, path)
        finally:
            self.within.pop()

    def fields(self, old: Schema, new: Schema, path: str) -> list[Breaking]:
        old_fields, new_fields = old.get("properties", {}), new.get("properties", {})
        old_required, new_required = set(old.get("required", ())), set(new.get("required", ()))
        found: list[Breaking] = []
        for name, old_field in old_fields.items():
            where = f"{path}.{name}" if path else name
            if name not in new_fields:
                found.append(Breaking(where, "was removed"))
                continue
            if name in new_required and name not in old_required:
                found.append(Breaking(where, "became required"))
            found += self.values(old_field, new_fields[name], where)
        found += [
            Breaking(f"{path}.{name}" if path else name, "was added as a required field")
            for name in new_fields
            if name not in old_fields and name in new_required
        ]
        old_values, new_values = old.get("additionalProperties"), new.get("additionalProperties")
        if isinstance(old_values, dict) and isinstance(new_values, dict):
            found += self.values(old_values, new_values, f"{path}{{}}")
        return found

    def values(self, old: Schema, new: Schema, path: str) -> list[Breaking]:
        old_kinds, new_kinds = self.kinds(old, 0), self.kinds(new, 1)
        if old_kinds.keys() != new_kinds.keys():
            before, after = " | ".join(old_kinds), " | ".join(new_kinds)
            return [Breaking(path, f"changed type from {before} to {after}")]
        found: list[Breaking] = []
        for kind, old_node in old_kinds.items():
            new_node = new_kinds[kind]
            if kind == "object":
                found += self.objects(old_node, new_node, path)
            elif kind == "array":
                found += self.values(
                    old_node.get("items", {}), new_node.get("items", {}), path + "[]"
                )
            elif kind == "enum":
                found += _enum_changes(_allowed(old_node), _allowed(new_node), path)
        return found

    def kinds(self, node: Schema, side: int) -> dict[str, Schema]:
        """The alternatives a value may take, by kind: `object`, `array`, `enum`, or the
        scalar type with its constraints (`string (format uuid)`)."""
        node = self.resolve(node, side)
        alternatives = node.get("anyOf") or node.get("oneOf")
        if not alternatives and len(node.get("allOf", ())) == 1:  # a `$ref` with siblings
            alternatives = node["allOf"]
        if alternatives:
            return {k: v for each in alternatives for k, v in self.kinds(each, side).items()}
        if "enum" in node or "const" in node:
            return {"enum": node}
        types = node.get("type")
        if isinstance(types, list):
            return {k: v for t in types for k, v in self.kinds(node | {"type": t}, side).items()}
        if types == "object" or "properties" in node:
            return {"object": node}
        if types == "array":
            return {"array": node}
        constraints = ", ".join(f"{key} {node[key]}" for key in _CONSTRAINTS if key in node)
        name = str(types or "any")
        return {f"{name} ({constraints})" if constraints else name: node}

    def resolve(self, node: Schema, side: int) -> Schema:
        while "$ref" in node:
            target: Any = self.roots[side]
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            node = target
        return node


def _allowed(node: Schema) -> list[Any]:
    return list(node["enum"]) if "enum" in node else [node["const"]]


def _enum_changes(old: list[Any], new: list[Any], path: str) -> list[Breaking]:
    """Both directions break: writers may rely on a removed value, and readers validate
    against the values they know, so a new value is refused by every older subscriber."""
    found = []
    if dropped := [value for value in old if value not in new]:
        found.append(Breaking(path, f"no longer allows {', '.join(map(repr, dropped))}"))
    if added := [value for value in new if value not in old]:
        found.append(
            Breaking(
                path, f"now also allows {', '.join(map(repr, added))}, which older readers refuse"
            )
        )
    return found
