"""The legacy project of the adoption tests (`legacy/`, and `untied/`, the files its team
changes to untie newsletter), copied into a directory of its own and run as its team runs it:
its manage.py and its own tests, each in a process of its own, on SQLite files or on
PostgreSQL databases made for it (and dropped after)."""

import hashlib
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg

from modulith.database.urls import parse_database_url
from modulith.testing import wait_until
from tests.processes import environment_without_settings

HERE = Path(__file__).resolve().parent
LEGACY = HERE / "legacy"
UNTIED = HERE / "untied"
IGNORED = shutil.ignore_patterns("__pycache__", "*.sqlite3*", ".pytest_cache")
COMMAND_TIMEOUT = 120

# The guide's first step: what the project's settings gain.
INSTALL = """
# modulith (docs/adopting.md): the framework beside the project's apps.
from modulith.conf import deployment  # noqa: E402

MODULITH_MANIFESTS: list[str] = []
_deployment = deployment(MODULITH_MANIFESTS, BASE_DIR / "var")
INSTALLED_APPS = _deployment.installed_apps_with(INSTALLED_APPS)
DATABASES = _deployment.databases_with(DATABASES)
DATABASE_ROUTERS = ["modulith.database.router.ModuleRouter"]
"""

Rows = dict[str, Counter[str]]


class Databases:
    """The project's databases, by name (`default`, `newsletter`): SQLite files in a directory,
    or databases of the PostgreSQL server the suite runs on, named after its own (`e_...`)."""

    def __init__(self, directory: Path, server: Mapping[str, Any] | None) -> None:
        self.directory = directory
        self.server = dict(server) if server else None
        self.token = uuid.uuid4().hex[:8]
        self.made: list[str] = []  # the databases made for the project, by name

    @classmethod
    def for_suite(cls, directory: Path) -> "Databases":
        """PostgreSQL when the suite runs on it (DATABASE_URL), else SQLite."""
        url = os.environ.get("DATABASE_URL", "")
        return cls(directory, parse_database_url(url) if url.startswith("postgres") else None)

    @property
    def engine(self) -> str:
        return "postgresql" if self.server else "sqlite"

    def name(self, database: str) -> str:
        assert self.server is not None
        prefix = str(self.server["NAME"]).partition("_")[0] or "adopt"
        return f"{prefix}_adopt_{self.token}_{database}"

    def create(self, database: str) -> None:
        if self.server is not None:
            with self._server() as cursor:
                cursor.execute(f'CREATE DATABASE "{self.name(database)}"')
        self.made.append(database)

    def drop_all(self) -> None:
        if self.server is None:
            return  # the files go with the test's directory
        with self._server() as cursor:
            for name in map(self.name, self.made):
                for dropped in (name, f"test_{name}"):
                    cursor.execute(f'DROP DATABASE IF EXISTS "{dropped}" WITH (FORCE)')

    def path(self, database: str) -> str:
        """What the legacy settings take: a SQLite file's path, or a postgres:// URL."""
        if self.server is None:
            return str(self.directory / f"{database}.sqlite3")
        server = self.server
        return (
            f"postgres://{server['USER']}:{server['PASSWORD']}@{server['HOST']}:"
            f"{server['PORT']}/{self.name(database)}"
        )

    def url(self, database: str) -> str:
        """A database URL, as `<MODULE>_DATABASE_URL` takes it."""
        return self.path(database) if self.server else f"sqlite:///{self.path(database)}"

    def rows(self, database: str) -> Rows:
        """Every row of every table, as a multiset of each row's digest, by table."""
        found: Rows = {}
        with self.cursor(database) as cursor:
            for table in self.tables(database):
                cursor.execute(f'SELECT * FROM "{table}"')
                found[table] = Counter(
                    hashlib.sha256(repr(tuple(row)).encode()).hexdigest()
                    for row in cursor.fetchall()
                )
        return found

    def tables(self, database: str) -> list[str]:
        with self.cursor(database) as cursor:
            if self.server is None:
                cursor.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' "
                    "AND name NOT LIKE 'sqlite_%'"
                )
            else:
                cursor.execute(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
                )
            return sorted(row[0] for row in cursor.fetchall())

    def copied(self, database: str) -> int:
        """How many rows a move has copied into `database` so far."""
        try:
            return int(self.scalar(database, "SELECT SUM(rows) FROM modulith_copiedtable") or 0)
        except (sqlite3.OperationalError, psycopg.errors.UndefinedTable):
            return 0  # the move has not made its table yet

    def scalar(self, database: str, sql: str) -> Any:
        with self.cursor(database) as cursor:
            cursor.execute(sql)
            row = cursor.fetchone()
            return row[0] if row else None

    @contextmanager
    def cursor(self, database: str) -> Iterator[Any]:
        if self.server is None:
            sqlite = sqlite3.connect(self.path(database), timeout=20)
            try:
                yield sqlite.cursor()
            finally:
                sqlite.close()
            return
        with psycopg.connect(**self._params(self.name(database)), autocommit=True) as postgres:
            yield postgres.cursor()

    @contextmanager
    def _server(self) -> Iterator[Any]:
        assert self.server is not None
        with psycopg.connect(**self._params("postgres"), autocommit=True) as connection:
            yield connection.cursor()

    def _params(self, name: str) -> dict[str, Any]:
        assert self.server is not None
        server = self.server
        return {
            "dbname": name,
            "user": server["USER"],
            "password": server["PASSWORD"],
            "host": server["HOST"],
            "port": server["PORT"],
            "connect_timeout": 10,
        }


class LegacyProject:
    """A copy of the legacy project in `root`, on `databases`."""

    def __init__(self, root: Path, databases: Databases) -> None:
        self.root = root
        self.databases = databases
        self.environment: dict[str, str] = {}  # what its processes run with, beyond the base

    @classmethod
    def copy(cls, root: Path, databases: Databases) -> "LegacyProject":
        shutil.copytree(LEGACY, root, ignore=IGNORED)
        databases.create("default")
        return cls(root, databases)

    @classmethod
    def seeded(cls, root: Path, databases: Databases, *, subscribers: int) -> "LegacyProject":
        """A copy, migrated, with its data."""
        project = cls.copy(root, databases)
        project.must("migrate")
        project.must("seed", "--subscribers", str(subscribers))
        return project

    def adopt(self, *, untied: bool) -> None:
        """The guide's first steps done: modulith installed, accounts and newsletter modules
        in the shared database; newsletter untied (its migrations squashed), if asked."""
        self.append_settings(INSTALL)
        self.must("startmodule", "accounts")
        self.must("startmodule", "newsletter")
        if untied:
            self.apply(UNTIED, removed=("newsletter/signals.py",))
            self.must("squashmigrations", "newsletter", "0002", "--noinput")
        self.must("migrate")

    def env(self, **extra: str) -> dict[str, str]:
        env = environment_without_settings()
        env.update(PYTHONPATH=str(self.root), LEGACY_DATABASE=self.databases.path("default"))
        env.update(self.environment)
        env.update(extra)  # an empty value unsets, as a deployment without the variable
        return {name: value for name, value in env.items() if value}

    def manage(self, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        """manage.py, with these variables added to (or, empty, removed from) its environment."""
        return self._run([sys.executable, "manage.py", *args], COMMAND_TIMEOUT, extra)

    def must(self, *args: str, **extra: str) -> str:
        """manage.py's output, which must succeed."""
        result = self.manage(*args, **extra)
        assert result.returncode == 0, (
            f"manage.py {' '.join(args)}:\n{result.stdout}{result.stderr}"
        )
        return result.stdout

    def own_tests(self, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        """The project's own test suite (its pytest.ini, its tests/), keeping its test
        databases from one run to the next (migrated again each time), as a team does."""
        return self._run([sys.executable, "-m", "pytest", "-q", "--reuse-db", *args], 240, extra)

    def tool(self, name: str, *args: str) -> subprocess.CompletedProcess[str]:
        """A tool installed beside this Python (lint-imports), run in the project."""
        return self._run([str(Path(sys.executable).with_name(name)), *args], 120, {})

    def start(self, *args: str, **extra: str) -> subprocess.Popen[str]:
        """manage.py in the background, in a process group of its own."""
        return subprocess.Popen(
            [sys.executable, "manage.py", *args],
            cwd=self.root,
            env=self.env(**extra),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )

    def apply(self, tree: Path, *, removed: tuple[str, ...] = ()) -> None:
        """The files of `tree` written over the project's, and `removed` removed: a change of
        its code, as a commit would make it."""
        shutil.copytree(tree, self.root, ignore=IGNORED, dirs_exist_ok=True)
        for relative in removed:
            (self.root / relative).unlink()

    def append_settings(self, text: str) -> None:
        with (self.root / "legacy" / "settings.py").open("a", encoding="utf-8") as file:
            file.write(text)

    def _run(
        self, command: list[str], timeout: float, extra: Mapping[str, str]
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            command,
            cwd=self.root,
            env=self.env(**extra),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


def move_killed_mid_copy(project: LegacyProject, *, after_rows: int, **env: str) -> None:
    """`movedata newsletter` in small batches, killed by SIGKILL once `after_rows` rows are in
    its new database: it gets no chance to finish anything."""
    moving = project.start("movedata", "newsletter", "--batch-size", "10", **env)
    try:

        def copied() -> int:
            rows = project.databases.copied("newsletter")
            if rows < after_rows and moving.poll() is not None:
                output = moving.stdout.read() if moving.stdout else ""
                raise AssertionError(f"movedata ended ({moving.returncode}) first:\n{output}")
            return rows

        wait_until(
            copied,
            lambda rows: rows >= after_rows,
            awaiting="the copy's first batches",
            timeout=60,
            interval=0.01,
        )
    finally:
        kill(moving)
    assert moving.returncode == -signal.SIGKILL


def kill(process: subprocess.Popen[str]) -> None:
    """SIGKILL to the process's group: it gets no chance to finish anything."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
