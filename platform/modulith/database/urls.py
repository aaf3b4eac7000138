"""A database URL as Django's DATABASES entry, for the two databases the framework runs on:
SQLite (`sqlite:///relative/file.sqlite3`, `sqlite:////absolute/file.sqlite3`) and PostgreSQL
(`postgres://user:password@host:port/name?sslmode=require`; the query goes to OPTIONS)."""

from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

ENGINES = {
    "sqlite": "django.db.backends.sqlite3",
    "postgres": "django.db.backends.postgresql",
    "postgresql": "django.db.backends.postgresql",
    "pgsql": "django.db.backends.postgresql",
}
EXAMPLES = "sqlite:///path/to/file.sqlite3 or postgres://user:password@host:5432/name"


def parse_database_url(url: str, *, conn_max_age: int = 0) -> dict[str, Any]:
    """Raises ValueError saying what is wrong with the URL, without repeating it (it may hold a
    password)."""
    scheme, sep, _ = url.partition("://")
    if not sep:
        raise ValueError(f"it has no scheme (use {EXAMPLES})")
    engine = ENGINES.get(scheme.lower())
    if engine is None:
        raise ValueError(f"the scheme {scheme!r} is not sqlite or postgres (use {EXAMPLES})")
    if engine == ENGINES["sqlite"]:
        name = _sqlite_name(url[len(scheme) + 3 :])
        return {"ENGINE": engine, "NAME": name, "CONN_MAX_AGE": conn_max_age}
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        raise ValueError("its port is not a number from 0 to 65535") from None
    return {
        "ENGINE": engine,
        "NAME": unquote(parts.path.lstrip("/")),
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": _host(parts.netloc),
        "PORT": port or "",
        "CONN_MAX_AGE": conn_max_age,
        "OPTIONS": dict(parse_qsl(parts.query)),
    }


def _host(netloc: str) -> str:
    """The host as written (not lowercased): a socket directory may be given percent-encoded
    (`%2Fvar%2Frun%2Fpostgresql`); an IPv6 address in brackets."""
    host = netloc.rpartition("@")[2]
    if host.startswith("["):
        return host[1 : host.index("]")]
    return unquote(host.partition(":")[0])


def _sqlite_name(rest: str) -> str:
    """`/relative` or `//absolute` after `sqlite://`; nothing at all or `:memory:` is memory."""
    if rest in {"", ":memory:", "/:memory:"}:
        return ":memory:"
    return unquote(rest[1:] if rest.startswith("/") else rest)
