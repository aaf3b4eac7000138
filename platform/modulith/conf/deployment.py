"""Reading the deployment from the environment: which modules run here, their databases and
the cache. Used by the project's settings module, before Django is set up."""

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.utils.module_loading import import_string

from modulith.conf.environment import env_list, env_str
from modulith.database_url import parse_database_url
from modulith.errors import ConfigurationError
from modulith.modules import Topology


def on_lambda(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether this process is a Lambda function's (the runtime sets AWS_LAMBDA_FUNCTION_NAME):
    frozen between invocations, so it runs no background thread."""
    return bool(environ.get("AWS_LAMBDA_FUNCTION_NAME", "").strip())


def running_modules(environ: Mapping[str, str] = os.environ) -> list[str] | None:
    """The module names in MODULITH_MODULES, or None for all of them (`*` or unset)."""
    names = env_list("MODULITH_MODULES", environ)
    return None if not names or names == ["*"] else names


def database_variable(module: str) -> str:
    """The environment variable of a module's own database."""
    return f"{module.upper()}_DATABASE_URL"


def load_topology(manifests: Sequence[str], environ: Mapping[str, str] = os.environ) -> Topology:
    """The modules of these manifests, those named by MODULITH_MODULES running here. A module
    whose manifest places it in a shared database lives in its own once the deployment gives
    it one (`<MODULE>_DATABASE_URL`): that variable is the switch of a move (docs/adopting.md)."""
    topology = Topology.load(manifests, running_modules(environ))
    given = [
        m.name
        for m in topology.modules
        if m.shares_database and environ.get(database_variable(m.name), "").strip()
    ]
    return topology.with_own_databases(given)


# The framework's own apps, which a project that lists its apps adds once: `ninja` serves the
# modules' APIs (its templates and static files), `modulith` the bus's tables and commands.
FRAMEWORK_APPS = ("ninja", "modulith")


@dataclass(frozen=True)
class Deployment:
    """The parts of Django's settings that depend on which modules run here."""

    topology: Topology
    installed_apps: list[str]
    databases: dict[str, dict[str, Any]]
    caches: dict[str, dict[str, Any]]

    def installed_apps_with(self, listed: Sequence[str]) -> list[str]:
        """A project's own INSTALLED_APPS, made right for this deployment: the framework's
        apps added once, each running module's app added unless listed already (by package
        or AppConfig), and the app of a module that runs elsewhere left out."""
        absent = [m.app for m in self.topology.modules if not self.topology.is_running(m.name)]
        apps = [app for app in listed if not any(_same_app(app, other) for other in absent)]
        wanted = [*FRAMEWORK_APPS, *self.installed_apps]
        return apps + [app for app in wanted if not any(_same_app(app, a) for a in apps)]

    def databases_with(self, listed: Mapping[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """A project's own DATABASES, with the database of each running module that has one of
        its own added; a module's database takes `ATOMIC_REQUESTS` from the project's
        `default`, so its writes commit with the request as the project's do."""
        atomic = bool(listed.get("default", {}).get("ATOMIC_REQUESTS", False))
        own = {
            m.database: {**self.databases[m.database], "ATOMIC_REQUESTS": atomic}
            for m in self.topology.running_modules
            if not m.shares_database and m.database not in listed
        }
        return {**listed, **own}


def _same_app(entry: str, other: str) -> bool:
    """Whether two INSTALLED_APPS entries name one app: a package, or its AppConfig
    (`accounts` and `accounts.apps.AccountsConfig`)."""
    return entry == other or _package(entry) == _package(other)


def _package(entry: str) -> str:
    head, _, last = entry.rpartition(".")
    if head and last[:1].isupper():  # an AppConfig class: its `name` is the package
        try:
            return str(import_string(entry).name)
        except ImportError:
            return head.removesuffix(".apps")
    return entry


def deployment(
    manifests: Sequence[str], var_dir: Path, environ: Mapping[str, str] = os.environ
) -> Deployment:
    """The deployment of these manifests' modules: the database of each running module that
    has one of its own from `<MODULE>_DATABASE_URL`, Django's own apps' from `DATABASE_URL`,
    by default SQLite files in `var_dir` (or MODULITH_VAR_DIR); the cache from
    MODULITH_CACHE_URL. A module placed in a shared database by its manifest uses that one."""
    topology = load_topology(manifests, environ)
    var_dir = Path(env_str("MODULITH_VAR_DIR", str(var_dir), environ))
    var_dir.mkdir(parents=True, exist_ok=True)  # where the embedded SQLite files live
    databases = {"default": database("DATABASE_URL", var_dir / "default.sqlite3", environ)}
    for module in topology.running_modules:
        if not module.shares_database:
            databases[module.database] = database(
                database_variable(module.name), var_dir / f"{module.name}.sqlite3", environ
            )
    return Deployment(
        topology=topology,
        installed_apps=[module.app for module in topology.running_modules],
        databases=databases,
        caches=caches(environ),
    )


def database(variable: str, default_file: Path, environ: Mapping[str, str]) -> dict[str, Any]:
    url = env_str(variable, f"sqlite:///{default_file}", environ)
    try:
        config = parse_database_url(url, conn_max_age=60)
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
    # Each test database is created on its own, so a module's test may ask for its module's
    # database alone (Django would otherwise create `default` first, and insist on it).
    config.setdefault("TEST", {})["DEPENDENCIES"] = []
    return config


def caches(environ: Mapping[str, str] = os.environ) -> dict[str, dict[str, Any]]:
    """Django's cache: Redis when MODULITH_CACHE_URL names one (the nonces of internal calls
    then live there, shared by every instance), otherwise each process's memory, Django's own
    default: the framework keeps nothing in it then (its nonces have a table of their own)."""
    url = env_str("MODULITH_CACHE_URL", "", environ)
    if not url:
        return {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    if not url.startswith(("redis://", "rediss://")):
        raise ConfigurationError(
            "MODULITH_CACHE_URL is not a Redis URL: use redis://host:6379/0, or leave it "
            "unset for each process's own memory"
        )
    return {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}}
