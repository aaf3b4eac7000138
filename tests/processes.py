"""Running the project's own commands as separate processes, on the test databases."""

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from django.db import connections

ROOT = Path(__file__).resolve().parent.parent


def database_variable(alias: str) -> str:
    """The environment variable of a database alias (`<MODULE>_DATABASE_URL`)."""
    return "DATABASE_URL" if alias == "default" else f"{alias.upper()}_DATABASE_URL"


def database_url(alias: str) -> str:
    """The URL of the database a test is using under `alias` (its test database)."""
    settings = connections[alias].settings_dict
    if settings["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{Path(settings['NAME']).resolve()}"
    return (
        f"postgres://{settings['USER']}:{settings['PASSWORD']}@{settings['HOST']}:"
        f"{settings['PORT']}/{settings['NAME']}"
    )


def project_env(**overrides: str) -> dict[str, str]:
    """The environment of a project process that shares this test's databases."""
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'platform'}"}
    env.update({database_variable(alias): database_url(alias) for alias in connections})
    env.update(overrides)
    return env


def run_python(
    code: str, *, timeout: float = 60, env: Mapping[str, str] | None = None, **variables: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=project_env(**(env or {}), **variables),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def manage(*args: str, timeout: float = 60, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=project_env(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
