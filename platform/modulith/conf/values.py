"""Values of settings, converted and checked by pydantic, from Django's settings (a Python
value, or text) or the environment (text); a bad one is one line naming the setting and what it
accepts: `MODULITH_MAX_ATTEMPTS must be a whole number, not 'abc'`."""

import math
from datetime import timedelta
from typing import Annotated, TypeVar

from pydantic import BeforeValidator, TypeAdapter, ValidationError
from pydantic_core import ErrorDetails

from modulith.modules.errors import ConfigurationError

T = TypeVar("T")

DURATION = "be a duration such as 90 (seconds), 30m, 12h or 14d"
NAMES = "be a list of names (or comma-separated text)"
VERSIONS = "map event names to major versions, such as {'OrderPlaced': 1} (or OrderPlaced=1,...)"
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}

# What a value must be, by the type of pydantic's error.
_ACCEPTS = {
    "int_parsing": "be a whole number",
    "int_type": "be a whole number",
    "int_from_float": "be a whole number",
    "float_parsing": "be a number",
    "float_type": "be a number",
    "finite_number": "be a finite number",
    "bool_parsing": "be 1 or 0 (true or false)",
    "bool_type": "be 1 or 0 (true or false)",
    "string_type": "be text",
}
# Bounds, by the type of pydantic's error: the words, and the key of the bound in its context.
_BOUNDS = {
    "greater_than_equal": ("at least", "ge"),
    "less_than_equal": ("at most", "le"),
}


class Refused(ValueError):
    """A value a setting's own validator refuses: what the setting must be (`be a duration
    such as ...`), and the part of the value that is not (a list's one bad item)."""

    def __init__(self, accepts: str, shown: object) -> None:
        super().__init__(accepts)
        self.accepts = accepts
        self.shown = shown


def one_line(
    name: str,
    error: ErrorDetails,
    value: object,
    *,
    choices: tuple[str, ...] = (),
    secret: bool = False,
) -> str:
    """The line that says what `name` must be, from pydantic's error about `value` (a choice
    among `choices`, if any). A secret's value is never shown."""
    refused = error.get("ctx", {}).get("error")
    if isinstance(refused, Refused):
        accepts, value = refused.accepts, refused.shown
    elif error["type"] in _BOUNDS:
        words, key = _BOUNDS[error["type"]]
        accepts = f"be {words} {error['ctx'][key]:g}"
        value = _Number(value)
    elif error["type"] == "finite_number":
        accepts, value = _ACCEPTS["finite_number"], _Number(value)
    elif error["type"] == "literal_error":
        accepts = f"be one of {', '.join(choices)}"
    elif error["type"] == "is_instance_of":
        accepts = f"be a {error['ctx']['class']}"
    else:
        accepts = _ACCEPTS.get(error["type"], f"be {error['msg'].removeprefix('Input should be ')}")
    if secret:
        return f"{name} must {accepts} (the value is not shown: it is a secret)"
    return f"{name} must {accepts}, not {value!r}"


class _Number:
    """A number as it was written: `0`, not `'0'`, whether it came as text or not."""

    def __init__(self, value: object) -> None:
        self.value = value

    def __repr__(self) -> str:
        return self.value if isinstance(self.value, str) else repr(self.value)


def convert(name: str, adapter: "TypeAdapter[T]", value: object) -> T:
    """`value` as the adapter's type (pydantic's lax conversion: text such as `7` or `off`
    too), or a ConfigurationError in one line."""
    try:
        return adapter.validate_python(value)
    except ValidationError as error:
        raise ConfigurationError(one_line(name, error.errors()[0], value)) from None


def parse_list(text: str) -> tuple[str, ...]:
    """A comma-separated list, blanks dropped."""
    return tuple(item.strip() for item in text.split(",") if item.strip())


def _duration(value: object) -> timedelta:
    """Seconds (`90`, or a number), a number and a unit (`30m`, `12h`, `14d`), or a timedelta;
    never negative."""
    seconds: float | None = None
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().lower()
        number, unit = (text[:-1], text[-1]) if text[-1:] in _UNITS else (text, "s")
        try:
            seconds = float(number) * _UNITS[unit]
        except ValueError:
            seconds = None
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        raise Refused(DURATION, value)
    return timedelta(seconds=seconds)


def _names(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        return parse_list(value)
    if isinstance(value, list | tuple) and all(isinstance(item, str) for item in value):
        return tuple(item.strip() for item in value if item.strip())
    raise Refused(NAMES, value)


def _versions(value: object) -> dict[str, int]:
    """Event names to major versions: a dict, or text `OrderPlaced=1,StockReserved=2`."""
    pairs: list[tuple[object, object]] = []
    if isinstance(value, str):
        split = (item.partition("=") for item in parse_list(value))
        pairs = [(name, version) for name, _, version in split]
    elif isinstance(value, dict):
        pairs = list(value.items())
    else:
        raise Refused(VERSIONS, value)
    versions: dict[str, int] = {}
    for name, version in pairs:
        if isinstance(version, str) and version.strip().isdigit():
            version = int(version)
        if not (isinstance(name, str) and name.strip() and type(version) is int and version >= 1):
            raise Refused(VERSIONS, f"{name}={version}")
        versions[name.strip()] = version
    return versions


Duration = Annotated[timedelta, BeforeValidator(_duration)]
# A list: in Django's settings a list or tuple of texts, in the environment comma-separated.
Names = Annotated[tuple[str, ...], BeforeValidator(_names)]
# Event names to major versions: a dict in Django's settings, `Name=1,Other=2` in the
# environment.
Versions = Annotated[dict[str, int], BeforeValidator(_versions)]
