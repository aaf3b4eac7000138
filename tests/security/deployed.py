"""The shop as a deployment runs it: gunicorn on 127.0.0.1 with DEBUG off and the environment a
deployment sets (docs/settings.md, "Security"), behind a load balancer that terminates TLS (so
a request that came over HTTPS carries `X-Forwarded-Proto: https`).

Its databases are SQLite files of its own, never migrated: nothing here needs a table, and a
read that does fails for real (the 500 the tests look at)."""

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from tests.processes import DEBUG_OFF, DEVELOPMENT, TEST_API_KEY
from tests.service import Service

PUBLIC_HOST = "shop.example.com"
# What a deployment sets besides its databases and secrets.
DEPLOYMENT = {
    **DEBUG_OFF,
    "DJANGO_ALLOWED_HOSTS": PUBLIC_HOST,
    "DJANGO_CSRF_TRUSTED_ORIGINS": f"https://{PUBLIC_HOST}",
    "DJANGO_SECURE_SSL_REDIRECT": "1",
    "DJANGO_SECURE_HSTS_SECONDS": "31536000",
    "DJANGO_SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto",
}
# A request the load balancer took over TLS, from a client with an API key.
OVER_TLS = {"X-Forwarded-Proto": "https"}
KEYED = {**OVER_TLS, "X-API-Key": TEST_API_KEY}
MODULES = ("orders", "inventory", "payments")


def own_databases(directory: Path) -> dict[str, str]:
    """Every database of the monolith as an empty SQLite file in `directory`."""
    urls = {"DATABASE_URL": f"sqlite:///{directory / 'default.sqlite3'}"}
    for module in MODULES:
        urls[f"{module.upper()}_DATABASE_URL"] = f"sqlite:///{directory / module}.sqlite3"
    return {**urls, "MODULITH_VAR_DIR": str(directory)}


@contextmanager
def deployed(directory: Path, **overrides: str) -> Iterator[Service]:
    """The monolith with DEBUG off and the deployment's environment, then `overrides`."""
    with _gunicorn(directory, {**DEPLOYMENT, **overrides}) as service:
        yield service


@contextmanager
def in_development(directory: Path, **overrides: str) -> Iterator[Service]:
    """The monolith as `make run` serves it: DEBUG on."""
    with _gunicorn(directory, {**DEVELOPMENT, **overrides}) as service:
        yield service


@contextmanager
def _gunicorn(directory: Path, env: Mapping[str, str]) -> Iterator[Service]:
    directory.mkdir(parents=True, exist_ok=True)
    # No background sweep: its log lines about the missing tables would only be noise.
    settings = {**own_databases(directory), "MODULITH_EMBEDDED_RELAY": "0", **env}
    with Service(directory, "shop", env=settings) as service:
        yield service
