"""The framework's settings: one typed, frozen object with every default, read from Django's
settings where the project sets them, else from the environment (the same `MODULITH_*`
names), else the default here. A project sets only what differs.

The framework reads settings only through `modulith_settings()`; nothing else reads
`settings.MODULITH_*`. It is loaded and checked once, when the process starts (the app's
`ready()`), every bad value one line naming the setting and what it accepts; a test that
overrides a setting gets a fresh one (`reload_settings()` on `setting_changed`).
"""

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import timedelta
from ipaddress import ip_network
from typing import Any, Literal

from django.conf import settings as django_settings

from modulith.conf.deployment import load_topology, on_lambda
from modulith.conf.keys import SigningKeys
from modulith.conf.values import ABSENT, given, parse
from modulith.errors import ConfigurationError
from modulith.modules import Topology

PREFIX = "MODULITH_"
DEVELOPMENT_API_KEY = "dev-api-key"
# Django settings the defaults depend on: overriding one in a test reloads the settings too.
DEPENDENCIES = frozenset({"CELERY_BROKER_URL"})

TransportName = Literal["inprocess", "sqs", "sns", "eventbridge"]
HandlerMode = Literal["inline", "thread", "celery"]
DiscoveryKind = Literal["static", "cloudmap"]
NonceStoreKind = Literal["database", "cache"]
NO_KEYS = SigningKeys()


def setting(default: float, *, minimum: float, maximum: float | None = None) -> Any:
    """A number's field: its default and the bounds its value must keep."""
    return field(default=default, metadata={"minimum": minimum, "maximum": maximum})


def secret(default: Any) -> Any:
    """A secret's field: left out of the object's repr, and of any error about its value."""
    return field(default=default, repr=False, metadata={"secret": True})


@dataclass(frozen=True)
class ModulithSettings:
    """Each field is the setting `MODULITH_<FIELD>`; docs/settings.md says what each trades."""

    # Every module of the project and which of them run here; by default loaded from
    # MODULITH_MANIFESTS and MODULITH_MODULES.
    topology: Topology

    # The event bus.
    transport: TransportName = "inprocess"
    # By default inline on Lambda, which freezes a function's threads: see async_handlers_default.
    async_handlers: HandlerMode = "thread"
    max_attempts: int = setting(5, minimum=1)
    retry_base_seconds: float = setting(1.0, minimum=0)
    retry_max_seconds: float = setting(300.0, minimum=0)
    max_event_bytes: int = setting(256 * 1024, minimum=1)
    relay_interval: float = setting(2.0, minimum=0.01)
    claim_seconds: float = setting(15.0, minimum=0.01)
    route_probe_max_seconds: float = setting(30.0, minimum=0.01)
    outbox_retention: timedelta = timedelta(days=7)
    inbox_retention: timedelta = timedelta(days=14)
    # By default on unless Celery has a broker (then beat sweeps) or this is a Lambda function
    # (its relay function's schedule sweeps): see embedded_relay_default.
    embedded_relay: bool = True

    # The public API.
    api_keys: tuple[str, ...] = secret((DEVELOPMENT_API_KEY,))
    api_title: str = "API"
    api_version: str = "1.0.0"

    # Query ports whose provider runs elsewhere. By default the one key of
    # MODULITH_INTERNAL_SECRET, if set: see internal_keys_default.
    internal_keys: SigningKeys = field(default=NO_KEYS, repr=False, metadata={"secret": True})
    internal_secret: str = secret("")
    # Internal calls signed with AWS SigV4 too, for providers behind IAM-authorised routes.
    internal_sigv4: bool = False
    discovery: DiscoveryKind = "static"
    service_urls: str = ""
    cloudmap_namespace: str = "internal"
    remote_connect_timeout: float = setting(1.0, minimum=0.001)
    remote_read_timeout: float = setting(3.0, minimum=0.001)
    breaker_reset_seconds: float = setting(10.0, minimum=0)
    # By default the cache when MODULITH_CACHE_URL names one: see nonce_store_default.
    nonce_store: NonceStoreKind = "database"
    nonce_cache: str = "default"

    # AWS transports (boto3 itself is configured the standard way).
    queue_prefix: str = "modulith"
    event_bus: str = "modulith"
    max_receives: int = setting(5, minimum=1, maximum=1000)
    visibility_timeout: int = setting(30, minimum=0, maximum=43200)
    consumer_wait_seconds: int = setting(20, minimum=0, maximum=20)

    # Observability.
    log_correlation_fields: tuple[str, ...] = ()
    # By default on when OpenTelemetry's own variables ask for an exporter: see otel_default.
    otel: bool = False
    # CloudWatch EMF lines on standard output: by default on Lambda, see metrics_emf_default.
    metrics_emf: bool = False
    metrics_emf_interval: float = setting(60.0, minimum=1)
    # Who may scrape /metrics: callers from these networks (the TCP peer's address), and, when
    # a token is set, only with it as a bearer token. Loopback by default: a sidecar agent.
    metrics_networks: tuple[str, ...] = ("127.0.0.0/8", "::1/128")
    metrics_token: str = secret("")
    # How long the outbox gauges read from the databases serve scrapes before they are read again.
    metrics_cache_seconds: float = setting(10.0, minimum=0)

    def __post_init__(self) -> None:
        for network in self.metrics_networks:
            try:
                ip_network(network, strict=False)
            except ValueError:
                raise ConfigurationError(
                    "MODULITH_METRICS_NETWORKS must list networks such as 10.0.0.0/16 or "
                    f"127.0.0.1 (0.0.0.0/0 and ::/0 for any), not {network!r}"
                ) from None

    @classmethod
    def load(cls, project: object, environ: Mapping[str, str] = os.environ) -> "ModulithSettings":
        """From `project` (Django's settings, or any object with MODULITH_* attributes), then
        `environ`; raises ConfigurationError at the first bad value."""
        _refuse_unknown(project)
        values: dict[str, Any] = {}
        explicit: set[str] = set()
        for spec in fields(cls):
            name = PREFIX + spec.name.upper()
            raw = given(project, environ, name, from_environ=spec.name not in DJANGO_ONLY)
            if raw is not ABSENT:
                values[spec.name] = parse(name, raw, spec)
                explicit.add(spec.name)
            elif spec.name in DERIVED:
                values[spec.name] = DERIVED[spec.name](project, environ)
        _refuse_two_kinds_of_keys(values, explicit)
        return cls(**values)


def topology_default(project: object, environ: Mapping[str, str]) -> Topology:
    """Unset, there are no modules yet: a project adopting modulith installs it first, and
    turns its apps into modules one at a time (docs/adopting.md)."""
    manifests = getattr(project, "MODULITH_MANIFESTS", [])
    if not isinstance(manifests, list | tuple):
        raise ConfigurationError(
            "MODULITH_MANIFESTS must be a list of the dotted paths of your modules' manifests, "
            "e.g. MODULITH_MANIFESTS = ['shop.orders.module.manifest']"
        )
    return load_topology(manifests, environ)


def async_handlers_default(project: object, environ: Mapping[str, str]) -> HandlerMode:
    """On Lambda, deliveries after commit run before the response: a function is frozen as
    soon as it answers, and a thread would deliver only in some later invocation, if ever."""
    return "inline" if on_lambda(environ) else "thread"


def embedded_relay_default(project: object, environ: Mapping[str, str]) -> bool:
    """Without a Celery broker (none, or memory://: tasks run eagerly) no beat sweeps the
    outboxes, so the web process does; on Lambda, the relay function's schedule does."""
    broker = getattr(project, "CELERY_BROKER_URL", "") or ""
    return broker in {"", "memory://"} and not on_lambda(environ)


def internal_keys_default(project: object, environ: Mapping[str, str]) -> SigningKeys:
    """MODULITH_INTERNAL_SECRET, the one shared secret of earlier versions, is the key
    `default`: `MODULITH_INTERNAL_SECRET=s` is `MODULITH_INTERNAL_KEYS=default:s`."""
    raw = given(project, environ, PREFIX + "INTERNAL_SECRET", from_environ=True)
    return SigningKeys.single(raw.strip()) if isinstance(raw, str) else NO_KEYS


def nonce_store_default(project: object, environ: Mapping[str, str]) -> NonceStoreKind:
    """Redis, when MODULITH_CACHE_URL names one (every instance shares it); otherwise a table
    in Django's own database, made by `migrate`."""
    return "cache" if environ.get("MODULITH_CACHE_URL", "").strip() else "database"


def otel_default(project: object, environ: Mapping[str, str]) -> bool:
    return environ.get("OTEL_TRACES_EXPORTER", "none").strip() not in {"", "none"} or bool(
        environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
    )


def metrics_emf_default(project: object, environ: Mapping[str, str]) -> bool:
    """A Lambda function cannot be scraped: its metrics leave as EMF lines in its log."""
    return on_lambda(environ)


DERIVED: dict[str, Callable[[object, Mapping[str, str]], Any]] = {
    "topology": topology_default,
    "async_handlers": async_handlers_default,
    "embedded_relay": embedded_relay_default,
    "internal_keys": internal_keys_default,
    "nonce_store": nonce_store_default,
    "otel": otel_default,
    "metrics_emf": metrics_emf_default,
}
# Settings that are Python objects, set in Django's settings only.
DJANGO_ONLY = frozenset({"topology"})
# Read from the environment by modulith.conf.deployment, before Django's settings exist.
ENVIRONMENT_ONLY = frozenset({"MODULITH_MODULES", "MODULITH_VAR_DIR", "MODULITH_CACHE_URL"})


def _refuse_two_kinds_of_keys(values: Mapping[str, Any], explicit: set[str]) -> None:
    if {"internal_keys", "internal_secret"} <= explicit and values["internal_secret"]:
        raise ConfigurationError(
            "MODULITH_INTERNAL_KEYS and MODULITH_INTERNAL_SECRET are both set: keep "
            "MODULITH_INTERNAL_KEYS (MODULITH_INTERNAL_SECRET=s is the key default:s)"
        )


def _refuse_unknown(project: object) -> None:
    """A misspelt setting would be ignored and its default used: refused instead."""
    known = {PREFIX + spec.name.upper() for spec in fields(ModulithSettings)}
    for name in sorted(dir(project)):
        if name in ENVIRONMENT_ONLY:
            raise ConfigurationError(
                f"{name} is read from the environment by modulith.conf.deployment(), not from "
                "Django's settings: set the environment variable instead"
            )
        if name.startswith(PREFIX) and name not in {*known, "MODULITH_MANIFESTS"}:
            raise ConfigurationError(
                f"{name} is not a modulith setting (see docs/settings.md): a misspelt name "
                "would leave its default in force"
            )


def refuse_development_key(current: ModulithSettings, *, debug: bool) -> None:
    """With DEBUG off, the development API key is refused where it would open something: a
    running module's API (the deployment check modulith.E011). A project with no module yet,
    or none that serves an API, needs no key."""
    serves_api = any(module.api for module in current.topology.running_modules)
    if serves_api and not debug and DEVELOPMENT_API_KEY in current.api_keys:
        raise ConfigurationError(
            f"MODULITH_API_KEYS holds the development key {DEVELOPMENT_API_KEY!r} (the default "
            "when unset), which DEBUG off refuses: set MODULITH_API_KEYS to your own keys"
        )


_current: ModulithSettings | None = None


def modulith_settings() -> ModulithSettings:
    """The settings of this process, loaded on first use."""
    global _current
    if _current is None:
        _current = ModulithSettings.load(django_settings)
    return _current


def reload_settings() -> ModulithSettings:
    """Loads the settings again (a test changed one)."""
    global _current
    _current = None
    return modulith_settings()


def affects_settings(setting: str) -> bool:
    """Whether a change of this Django setting changes the framework's settings."""
    return setting.startswith(PREFIX) or setting in DEPENDENCIES
