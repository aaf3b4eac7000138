"""Reading the deployment from the environment: which modules run here, and their databases.

Used by the project's settings module, before Django is set up.
"""

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import dj_database_url

from modulith.errors import ConfigurationError
from modulith.modules import Topology


def env_str(name: str, default: str, environ: Mapping[str, str] = os.environ) -> str:
    value = environ.get(name, "").strip()
    return value or default


def env_bool(name: str, default: bool, environ: Mapping[str, str] = os.environ) -> bool:
    raw = environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise ConfigurationError(f"{name} must be 1 or 0 (true or false), not {raw!r}")


def env_int(name: str, default: int, environ: Mapping[str, str] = os.environ) -> int:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be a whole number, not {raw!r}") from None


def env_float(name: str, default: float, environ: Mapping[str, str] = os.environ) -> float:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be a number, not {raw!r}") from None


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def env_duration(name: str, default: str, environ: Mapping[str, str] = os.environ) -> timedelta:
    return parse_duration(name, env_str(name, default, environ))


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


def env_list(name: str, environ: Mapping[str, str] = os.environ) -> list[str]:
    return [item.strip() for item in environ.get(name, "").split(",") if item.strip()]


def on_lambda(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether this process is a Lambda function's (the runtime sets AWS_LAMBDA_FUNCTION_NAME):
    frozen between invocations, so it runs no background thread."""
    return bool(environ.get("AWS_LAMBDA_FUNCTION_NAME", "").strip())


def running_modules(environ: Mapping[str, str] = os.environ) -> list[str] | None:
    """The module names in MODULITH_MODULES, or None for all of them (`*` or unset)."""
    names = env_list("MODULITH_MODULES", environ)
    return None if not names or names == ["*"] else names


@dataclass(frozen=True)
class Deployment:
    """The parts of Django's settings that depend on which modules run here."""

    topology: Topology
    installed_apps: list[str]
    databases: dict[str, dict[str, Any]]


def deployment(
    manifests: Sequence[str], var_dir: Path, environ: Mapping[str, str] = os.environ
) -> Deployment:
    topology = Topology.load(manifests, running_modules(environ))
    var_dir.mkdir(parents=True, exist_ok=True)  # where the embedded SQLite files live
    databases = {"default": database("DATABASE_URL", var_dir / "default.sqlite3", environ)}
    for module in topology.running_modules:
        databases[module.database] = database(
            f"{module.name.upper()}_DATABASE_URL", var_dir / f"{module.name}.sqlite3", environ
        )
    return Deployment(
        topology=topology,
        installed_apps=[module.app for module in topology.running_modules],
        databases=databases,
    )


def database(variable: str, default_file: Path, environ: Mapping[str, str]) -> dict[str, Any]:
    url = env_str(variable, f"sqlite:///{default_file}", environ)
    try:
        config: dict[str, Any] = dict(dj_database_url.parse(url, conn_max_age=60))
    except ValueError as error:
        raise ConfigurationError(f"{variable} is not a database URL: {error}") from None
    # A Lambda function is frozen between invocations, for minutes at a time: a connection kept
    # meanwhile (CONN_MAX_AGE) may have been closed by the server or a proxy. Checked before
    # its first use in each invocation, and replaced when broken.
    config["CONN_HEALTH_CHECKS"] = on_lambda(environ)
    if config["ENGINE"] == "django.db.backends.sqlite3":
        # WAL lets readers and one writer work at once; the timeout waits out a busy writer.
        config["OPTIONS"] = {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
        config["CONN_MAX_AGE"] = 0
        # Tests get files too (not shared in-memory databases, whose table locks ignore the
        # busy timeout), so background threads and other processes can share them.
        config["TEST"] = {"NAME": str(Path(config["NAME"]).with_suffix(".test.sqlite3"))}
    return config
