"""A subset of YAML: enough for the compose file and the Kubernetes manifests, and no
dependency."""

import json
import re
from collections.abc import Mapping
from typing import Any

_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_./-]*$")
_RESERVED = {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "~"}


def to_yaml(value: Mapping[str, Any], indent: int = 0) -> list[str]:
    lines: list[str] = []
    pad = " " * indent
    for key, item in value.items():
        if isinstance(item, Mapping) and item:
            lines += [f"{pad}{_scalar(key)}:", *to_yaml(item, indent + 2)]
        elif isinstance(item, list) and item:
            lines += [f"{pad}{_scalar(key)}:", *_sequence(item, indent + 2)]
        else:
            lines.append(f"{pad}{_scalar(key)}: {_scalar(item)}")
    return lines


def _sequence(items: list[Any], indent: int) -> list[str]:
    """Scalars as `- value`; a mapping as `- key: value` with its other keys below its first."""
    lines: list[str] = []
    pad = " " * indent
    for item in items:
        if isinstance(item, Mapping) and item:
            first, *rest = to_yaml(item, indent + 2)
            lines += [f"{pad}- {first.lstrip()}", *rest]
        else:
            lines.append(f"{pad}- {_scalar(item)}")
    return lines


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Mapping | list):
        return "{}" if isinstance(value, Mapping) else "[]"
    text = str(value)
    if _PLAIN.match(text) and text.lower() not in _RESERVED:
        return text
    return json.dumps(text)
