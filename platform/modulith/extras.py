"""The optional parts of the framework, each an extra of its distribution (`django-modulith[aws]`).

The core (Django, django-ninja, pydantic) runs the in-process monolith. A setting that asks for
more is checked where it is chosen (`modulith.bootstrap`), with `require`: a missing extra is
then one line naming it, instead of an ImportError deep inside a request or a delivery.
"""

from dataclasses import dataclass
from importlib import import_module

from modulith.errors import ConfigurationError


@dataclass(frozen=True)
class Extra:
    name: str  # as in pip install 'django-modulith[<name>]'
    package: str  # what it installs, as the error names it
    modules: tuple[str, ...]  # any of them importable is enough


AWS = Extra("aws", "boto3", ("boto3",))
BOUNDARIES = Extra("boundaries", "import-linter", ("grimp",))
CELERY = Extra("celery", "celery", ("celery",))
LAMBDA = Extra("lambda", "apig-wsgi", ("apig_wsgi",))
OTEL = Extra("otel", "opentelemetry-sdk", ("opentelemetry.sdk.trace",))
# Django's PostgreSQL backend works with psycopg 3 (the extra) or with psycopg2.
POSTGRES = Extra("postgres", "psycopg", ("psycopg", "psycopg2"))
PROMETHEUS = Extra("prometheus", "prometheus-client", ("prometheus_client",))
REMOTE = Extra("remote", "httpx", ("httpx",))


def installed(extra: Extra) -> bool:
    """Whether the extra imports (imported here: an installation that is broken is missing)."""
    for module in extra.modules:
        try:
            import_module(module)
        except ImportError:
            continue
        return True
    return False


def require(extra: Extra, *, needed_by: str) -> None:
    """Raises ConfigurationError when the extra is missing, naming what needs it."""
    if not installed(extra):
        raise ConfigurationError(
            f"{needed_by} needs {extra.package}: pip install 'django-modulith[{extra.name}]'"
        )
