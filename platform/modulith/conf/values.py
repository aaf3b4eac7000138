"""One setting's value, from Django's settings (a Python value, or text) or the environment
(text), checked against the type and bounds of its field in ModulithSettings."""

from collections.abc import Mapping
from dataclasses import Field
from datetime import timedelta
from types import MappingProxyType
from typing import Any, Literal, get_args, get_origin

from modulith.conf.environment import (
    parse_bool,
    parse_duration,
    parse_float,
    parse_int,
    parse_list,
)
from modulith.conf.keys import SigningKeys
from modulith.modules.errors import ConfigurationError

ABSENT: Any = object()


def given(project: object, environ: Mapping[str, str], name: str, *, from_environ: bool) -> Any:
    """The value the project gives `name`: its Django setting, else its environment variable
    (blank counts as unset), else ABSENT."""
    value = getattr(project, name, ABSENT)
    if value is ABSENT and from_environ:
        value = environ.get(name, "").strip() or ABSENT
    return value


def parse(name: str, raw: object, spec: "Field[Any]") -> Any:
    if spec.type is SigningKeys:  # its errors name the pair, never the secret
        return SigningKeys.parse(name, raw)
    if not spec.metadata.get("secret"):
        return _parse(name, raw, spec)
    try:
        return _parse(name, raw, spec)
    except ConfigurationError:
        raise ConfigurationError(
            f"{name} must be {SECRET_FORMS.get(spec.type, 'text')} (the value is not shown: "
            "it is a secret)"
        ) from None


# What a secret setting accepts, for an error that cannot show what it was given.
SECRET_FORMS: dict[Any, str] = {
    str: "text",
    tuple[str, ...]: "a list of keys (or comma-separated text)",
}


def _parse(name: str, raw: object, spec: "Field[Any]") -> Any:
    kind = spec.type
    if get_origin(kind) is Literal:
        return _choice(name, raw, get_args(kind))
    if kind is bool:
        return raw if isinstance(raw, bool) else parse_bool(name, _text(name, raw, "True or False"))
    if kind is int:
        whole = raw if _is_int(raw) else parse_int(name, _text(name, raw, "a whole number"))
        return _bounded(name, whole, spec)
    if kind is float:
        if isinstance(raw, int | float) and not isinstance(raw, bool):
            return _bounded(name, float(raw), spec)
        return _bounded(name, parse_float(name, _text(name, raw, "a number")), spec)
    if kind is timedelta:
        return _duration(name, raw)
    if kind is str:
        return _text(name, raw, "text").strip()
    if get_origin(kind) is tuple:
        return _names(name, raw)
    if get_origin(kind) is Mapping:
        return _mapping(name, raw, spec.metadata["keys"])
    if isinstance(kind, type) and isinstance(raw, kind):
        return raw
    raise ConfigurationError(f"{name} must be a {getattr(kind, '__name__', kind)}, not {raw!r}")


def _text(name: str, raw: object, accepted: str) -> str:
    if not isinstance(raw, str):
        raise ConfigurationError(f"{name} must be {accepted}, not {raw!r}")
    return raw


def _is_int(raw: object) -> bool:
    return isinstance(raw, int) and not isinstance(raw, bool)


def _choice(name: str, raw: object, choices: tuple[str, ...]) -> str:
    value = raw.strip() if isinstance(raw, str) else raw
    if value not in choices:
        raise ConfigurationError(f"{name} must be one of {', '.join(choices)}, not {value!r}")
    return str(value)


def _bounded(name: str, value: Any, spec: "Field[Any]") -> Any:
    minimum, maximum = spec.metadata.get("minimum"), spec.metadata.get("maximum")
    if value != value or value in {float("inf"), float("-inf")}:  # nan, inf
        raise ConfigurationError(f"{name} must be a finite number, not {value!r}")
    if minimum is not None and value < minimum:
        raise ConfigurationError(f"{name} must be at least {minimum:g}, not {value!r}")
    if maximum is not None and value > maximum:
        raise ConfigurationError(f"{name} must be at most {maximum:g}, not {value!r}")
    return value


def _duration(name: str, raw: object) -> timedelta:
    if isinstance(raw, timedelta):
        if raw < timedelta(0):
            raise ConfigurationError(f"{name} must not be negative, not {raw}")
        return raw
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return parse_duration(name, str(raw))
    accepted = "a duration such as 90 (seconds), 30m, 12h or 14d"
    return parse_duration(name, _text(name, raw, accepted))


def _names(name: str, raw: object) -> tuple[str, ...]:
    if isinstance(raw, str):
        return tuple(parse_list(raw))
    if isinstance(raw, list | tuple) and all(isinstance(item, str) for item in raw):
        return tuple(item.strip() for item in raw if item.strip())
    raise ConfigurationError(
        f"{name} must be a list of names (or comma-separated text), not {raw!r}"
    )


def _mapping(name: str, raw: object, keys: tuple[str, ...]) -> Mapping[str, str]:
    if (
        not isinstance(raw, Mapping)
        or set(raw) != set(keys)
        or not all(isinstance(value, str) for value in raw.values())
    ):
        raise ConfigurationError(
            f"{name} must map {' and '.join(repr(key) for key in keys)} to dotted paths, "
            f"not {raw!r}"
        )
    return MappingProxyType(dict(raw))
