"""Reading values from the environment (or from text that came from it), converted as the
framework's own settings are, each bad value a one-line ConfigurationError naming the variable
and what it accepts. Blank counts as unset."""

import os
from collections.abc import Mapping
from datetime import timedelta

from pydantic import TypeAdapter

from modulith.conf.values import Duration, convert, parse_list

_BOOL = TypeAdapter(bool)
_INT = TypeAdapter(int)
_DURATION: TypeAdapter[timedelta] = TypeAdapter(Duration)


def env_str(name: str, default: str, environ: Mapping[str, str] = os.environ) -> str:
    return environ.get(name, "").strip() or default


def env_bool(name: str, default: bool, environ: Mapping[str, str] = os.environ) -> bool:
    raw = environ.get(name, "").strip()
    return convert(name, _BOOL, raw) if raw else default


def env_int(name: str, default: int, environ: Mapping[str, str] = os.environ) -> int:
    raw = environ.get(name, "").strip()
    return convert(name, _INT, raw) if raw else default


def env_list(name: str, environ: Mapping[str, str] = os.environ) -> list[str]:
    return list(parse_list(environ.get(name, "")))


def parse_duration(name: str, text: str) -> timedelta:
    """A duration: seconds (`90`), or a number and a unit (`30m`, `12h`, `14d`)."""
    return convert(name, _DURATION, text)
