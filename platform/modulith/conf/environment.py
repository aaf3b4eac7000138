"""Reading values from the environment (or from text that came from it), each bad value a
one-line ConfigurationError naming the variable and what it accepts."""

import os
from collections.abc import Mapping
from datetime import timedelta

from modulith.modules.errors import ConfigurationError

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def env_str(name: str, default: str, environ: Mapping[str, str] = os.environ) -> str:
    value = environ.get(name, "").strip()
    return value or default


def env_bool(name: str, default: bool, environ: Mapping[str, str] = os.environ) -> bool:
    raw = environ.get(name, "").strip()
    return parse_bool(name, raw) if raw else default


def env_int(name: str, default: int, environ: Mapping[str, str] = os.environ) -> int:
    raw = environ.get(name, "").strip()
    return parse_int(name, raw) if raw else default


def env_float(name: str, default: float, environ: Mapping[str, str] = os.environ) -> float:
    raw = environ.get(name, "").strip()
    return parse_float(name, raw) if raw else default


def env_duration(name: str, default: str, environ: Mapping[str, str] = os.environ) -> timedelta:
    return parse_duration(name, env_str(name, default, environ))


def env_list(name: str, environ: Mapping[str, str] = os.environ) -> list[str]:
    return parse_list(environ.get(name, ""))


def parse_bool(name: str, text: str) -> bool:
    raw = text.strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ConfigurationError(f"{name} must be 1 or 0 (true or false), not {raw!r}")


def parse_int(name: str, text: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise ConfigurationError(f"{name} must be a whole number, not {text.strip()!r}") from None


def parse_float(name: str, text: str) -> float:
    try:
        return float(text.strip())
    except ValueError:
        raise ConfigurationError(f"{name} must be a number, not {text.strip()!r}") from None


def parse_duration(name: str, text: str) -> timedelta:
    """A duration: seconds (`90`), or a number and a unit (`30m`, `12h`, `14d`)."""
    raw = text.strip().lower()
    number, unit = (raw[:-1], raw[-1]) if raw[-1:] in _UNITS else (raw, "s")
    try:
        seconds = float(number) * _UNITS[unit]
    except ValueError:
        seconds = -1.0
    if seconds < 0:
        raise ConfigurationError(
            f"{name} must be a duration such as 90 (seconds), 30m, 12h or 14d, not {raw!r}"
        )
    return timedelta(seconds=seconds)


def parse_list(text: str) -> list[str]:
    """A comma-separated list, blanks dropped."""
    return [item.strip() for item in text.split(",") if item.strip()]
