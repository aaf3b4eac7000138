"""The framework's settings: one frozen pydantic model with every default, read from Django's
settings where the project sets them, else from the environment (the same `MODULITH_*` names),
else the default here. A project sets only what differs.

The framework reads settings only through `modulith_settings()`; nothing else reads
`settings.MODULITH_*`. It is loaded and checked once, when the process starts (the app's
`ready()`), every bad value one line naming the setting and what it accepts; a test that
overrides a setting gets a fresh one (`reload_settings()` on `setting_changed`).
"""

import difflib
import os
from collections.abc import Callable, Mapping
from datetime import timedelta
from ipaddress import ip_network
from typing import Annotated, Any, Literal, TypeVar, get_args

from django.conf import settings as django_settings
from django.views.decorators.debug import sensitive_variables
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    InstanceOf,
    ValidationError,
    ValidationInfo,
    model_validator,
)

from modulith.conf import transports
from modulith.conf.deployment import load_topology, on_lambda
from modulith.conf.keys import SigningKeys
from modulith.conf.values import Duration, Names, Refused, Versions, one_line
from modulith.modules import Topology
from modulith.modules.errors import ConfigurationError

T = TypeVar("T")

PREFIX = "MODULITH_"
DEVELOPMENT_API_KEY = "dev-api-key"
# Django settings the defaults depend on: overriding one in a test reloads the settings too.
DEPENDENCIES = frozenset({"CELERY_BROKER_URL"})
# The dotted paths the topology is loaded from: a Django setting read by deployment() too.
MANIFESTS = "MODULITH_MANIFESTS"
# Read from the environment by modulith.conf.deployment, before Django's settings exist.
ENVIRONMENT_ONLY = frozenset({"MODULITH_MODULES", "MODULITH_VAR_DIR", "MODULITH_CACHE_URL"})
# Settings that are Python objects, set in Django's settings only.
DJANGO_ONLY = frozenset({"topology"})


def _transport(value: object) -> str:
    if isinstance(value, str) and transports.registered(value.strip()) is not None:
        return value.strip()
    raise Refused(transports.ACCEPTED, value)


# One of the framework's transports, or a plug-in's TransportKind by its dotted path.
TransportName = Annotated[str, BeforeValidator(_transport)]
HandlerMode = Literal["inline", "thread", "celery"]
DiscoveryKind = Literal["static", "cloudmap"]
NonceStoreKind = Literal["database", "cache"]


def setting_name(field: str) -> str:
    """The name a field of ModulithSettings has in Django's settings and the environment."""
    return PREFIX + field.upper()


def secret(default: T) -> T:
    """A secret's field: left out of the settings' repr, and of any error about its value."""
    return Field(default, repr=False)


def _networks(networks: tuple[str, ...]) -> tuple[str, ...]:
    for network in networks:
        try:
            ip_network(network, strict=False)
        except ValueError:
            raise Refused(
                "list networks such as 10.0.0.0/16 or 127.0.0.1 (0.0.0.0/0 and ::/0 for any)",
                network,
            ) from None
    return networks


def _keys(value: object, info: ValidationInfo) -> SigningKeys:
    # Its errors name the setting and the pair's position, never a secret.
    return SigningKeys.parse(setting_name(info.field_name or ""), value)


Networks = Annotated[Names, AfterValidator(_networks)]
Keys = Annotated[InstanceOf[SigningKeys], BeforeValidator(_keys)]


class ModulithSettings(BaseModel):
    """Each field is the setting `MODULITH_<FIELD>`; docs/settings.md says what each trades.
    A default that depends on where the process runs is in DEPENDENT_DEFAULTS, below."""

    model_config = ConfigDict(
        alias_generator=setting_name,
        frozen=True,
        extra="forbid",  # a misspelt setting would be ignored and its default used
        allow_inf_nan=False,
        arbitrary_types_allowed=True,  # Topology, SigningKeys
        hide_input_in_errors=True,  # pydantic's own messages never show a value (a secret)
    )

    # Every module of the project and which of them run here: by default loaded from
    # MODULITH_MANIFESTS and MODULITH_MODULES.
    topology: InstanceOf[Topology]

    # The event bus.
    transport: TransportName = "inprocess"
    async_handlers: HandlerMode = "thread"  # inline on Lambda
    max_attempts: int = Field(5, ge=1)
    retry_base_seconds: float = Field(1.0, ge=0)
    retry_max_seconds: float = Field(300.0, ge=0)
    # The hard bound at publish; events above a transport's own limit go by claim check.
    max_event_bytes: int = Field(10 * 1024 * 1024, ge=1)
    # Events published as an older major version than their contract's, by name, until every
    # consumer reads the current one (through the contract's downcasters).
    publish_versions: Versions = {}
    relay_interval: float = Field(2.0, ge=0.01)
    # A claimed delivery is left alone by other relays until its claim lapses: a relay that
    # dies mid-send delays its deliveries by this much, and loses none. Above the longest send
    # plus handling; the AWS clients that send are timed to stay well within it.
    claim_seconds: float = Field(15.0, ge=0.01)
    route_probe_max_seconds: float = Field(30.0, ge=0.01)
    outbox_retention: Duration = timedelta(days=7)
    inbox_retention: Duration = timedelta(days=14)
    embedded_relay: bool = True  # off when Celery has a broker, or on Lambda

    # The public API.
    api_keys: Names = secret((DEVELOPMENT_API_KEY,))
    api_title: str = "API"
    api_version: str = "1.0.0"

    # Query ports whose provider runs elsewhere.
    internal_keys: Keys = secret(SigningKeys())  # MODULITH_INTERNAL_SECRET's, if that is set
    internal_secret: str = secret("")
    # Internal calls signed with AWS SigV4 too, for providers behind IAM-authorised routes.
    internal_sigv4: bool = False
    discovery: DiscoveryKind = "static"
    service_urls: str = ""
    cloudmap_namespace: str = "internal"
    remote_connect_timeout: float = Field(1.0, ge=0.001)
    remote_read_timeout: float = Field(3.0, ge=0.001)
    breaker_reset_seconds: float = Field(10.0, ge=0)
    nonce_store: NonceStoreKind = "database"  # the cache when MODULITH_CACHE_URL names one
    nonce_cache: str = "default"

    # AWS transports (boto3 itself is configured the standard way).
    queue_prefix: str = "modulith"
    event_bus: str = "modulith"
    max_receives: int = Field(5, ge=1, le=1000)
    visibility_timeout: int = Field(30, ge=0, le=43200)
    consumer_wait_seconds: int = Field(20, ge=0, le=20)
    # Large events: their data in S3, a reference on the wire (modulith.aws.claim_checks).
    claim_check: bool = True
    claim_check_bucket: str = ""  # <prefix>-claim-checks-<account>-<region>
    claim_check_bytes: int | None = Field(None, ge=1024)  # each transport's limit

    # Observability.
    log_correlation_fields: Names = ()
    otel: bool = False  # on when OpenTelemetry's own variables ask for an exporter
    # CloudWatch EMF lines on standard output.
    metrics_emf: bool = False  # on on Lambda
    metrics_emf_interval: float = Field(60.0, ge=1)
    # Who may scrape /metrics: callers from these networks (the TCP peer's address), and, when
    # a token is set, only with it as a bearer token. Loopback by default: a sidecar agent.
    metrics_networks: Networks = ("127.0.0.0/8", "::1/128")
    metrics_token: str = secret("")
    # How long the outbox gauges read from the databases serve scrapes before they are read again.
    metrics_cache_seconds: float = Field(10.0, ge=0)

    @model_validator(mode="before")
    @classmethod
    @sensitive_variables()  # every local holds secrets
    def _single_secret_is_the_key_default(cls, given: dict[str, Any]) -> dict[str, Any]:
        """MODULITH_INTERNAL_SECRET, the one shared secret of earlier versions, is the key
        `default`: `MODULITH_INTERNAL_SECRET=s` is `MODULITH_INTERNAL_KEYS=default:s`."""
        single = given.get("MODULITH_INTERNAL_SECRET")
        if not single or not isinstance(single, str):
            return given
        if "MODULITH_INTERNAL_KEYS" in given:
            raise ConfigurationError(
                "MODULITH_INTERNAL_KEYS and MODULITH_INTERNAL_SECRET are both set: keep "
                "MODULITH_INTERNAL_KEYS (MODULITH_INTERNAL_SECRET=s is the key default:s)"
            )
        return {**given, "MODULITH_INTERNAL_KEYS": SigningKeys.single(single)}

    @classmethod
    @sensitive_variables()  # every local holds secrets
    def load(cls, project: object, environ: Mapping[str, str] = os.environ) -> "ModulithSettings":
        """From `project` (Django's settings, or any object with MODULITH_* attributes), then
        `environ`, then the defaults; raises ConfigurationError at the first bad value."""
        given = _given(project, environ)
        for field, default in DEPENDENT_DEFAULTS.items():
            name = setting_name(field)
            if name not in given and (value := default(project, environ)) is not None:
                given[name] = value
        try:
            return cls.model_validate(given)
        except ValidationError as error:
            raise ConfigurationError(_one_line(error, given)) from None

    @classmethod
    def default(cls, field: str) -> Any:
        """A setting's own default (where no default of DEPENDENT_DEFAULTS replaces it)."""
        return cls.model_fields[field].default

    @classmethod
    def secrets(cls) -> frozenset[str]:
        """The names of the secret settings."""
        return frozenset(setting_name(f) for f, info in cls.model_fields.items() if not info.repr)


def _given(project: object, environ: Mapping[str, str]) -> dict[str, Any]:
    """What the project sets, by setting name: every MODULITH_* Django setting (so that the
    model refuses a misspelt one), then the environment's value of each setting it leaves
    unset (blank counts as unset). Text is taken stripped."""
    given: dict[str, Any] = {}
    for name in dir(project):
        if name in ENVIRONMENT_ONLY:
            raise ConfigurationError(
                f"{name} is read from the environment by modulith.conf.deployment(), not from "
                "Django's settings: set the environment variable instead"
            )
        if name.startswith(PREFIX) and name != MANIFESTS:
            value = getattr(project, name)
            given[name] = value.strip() if isinstance(value, str) else value
    for field in ModulithSettings.model_fields:
        name = setting_name(field)
        text = "" if field in DJANGO_ONLY else environ.get(name, "").strip()
        if text and name not in given:
            given[name] = text
    return given


def _one_line(error: ValidationError, given: Mapping[str, Any]) -> str:
    problems = error.errors()
    # A misspelt name first: the value it was meant to set is not in force either.
    first = next((p for p in problems if p["type"] == "extra_forbidden"), problems[0])
    name = str(first["loc"][0])
    if first["type"] == "extra_forbidden":
        known = [setting_name(field) for field in ModulithSettings.model_fields]
        close = difflib.get_close_matches(name, known, n=1)
        meant = f" (did you mean {close[0]}?)" if close else ""
        return (
            f"{name} is not a modulith setting{meant}: a misspelt name would leave its "
            "default in force (docs/settings.md lists them)"
        )
    field = ModulithSettings.model_fields[name.removeprefix(PREFIX).lower()]
    return one_line(
        name,
        first,
        given.get(name),
        choices=get_args(field.annotation),  # a Literal's
        secret=name in ModulithSettings.secrets(),
    )


def _topology(project: object, environ: Mapping[str, str]) -> Topology:
    """Unset, there are no modules yet: a project adopting modulith installs it first, and
    turns its apps into modules one at a time (docs/adopting.md)."""
    manifests = getattr(project, MANIFESTS, [])
    if not isinstance(manifests, list | tuple):
        raise ConfigurationError(
            "MODULITH_MANIFESTS must be a list of the dotted paths of your modules' manifests, "
            "e.g. MODULITH_MANIFESTS = ['shop.orders.module.manifest']"
        )
    return load_topology(manifests, environ)


def _inline_on_lambda(project: object, environ: Mapping[str, str]) -> HandlerMode | None:
    """On Lambda, deliveries after commit run before the response: a function is frozen as
    soon as it answers, and a thread would deliver only in some later invocation, if ever."""
    return "inline" if on_lambda(environ) else None


def _no_embedded_relay(project: object, environ: Mapping[str, str]) -> bool | None:
    """With a Celery broker (other than memory://, where tasks run eagerly) beat sweeps the
    outboxes; on Lambda, the relay function's schedule does. Otherwise the web process does."""
    broker = getattr(project, "CELERY_BROKER_URL", "") or ""
    return False if broker not in {"", "memory://"} or on_lambda(environ) else None


def _nonces_in_the_cache(project: object, environ: Mapping[str, str]) -> NonceStoreKind | None:
    """Redis, when MODULITH_CACHE_URL names one (every instance shares it); otherwise a table
    in Django's own database, made by `migrate`."""
    return "cache" if environ.get("MODULITH_CACHE_URL", "").strip() else None


def _otel_asked_for(project: object, environ: Mapping[str, str]) -> bool | None:
    exporter = environ.get("OTEL_TRACES_EXPORTER", "none").strip() not in {"", "none"}
    return True if exporter or environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip() else None


def _emf_on_lambda(project: object, environ: Mapping[str, str]) -> bool | None:
    """A Lambda function cannot be scraped: its metrics leave as EMF lines in its log."""
    return True if on_lambda(environ) else None


# Defaults that depend on where the process runs and on what else is set, for the settings the
# project leaves unset: each gives the value that replaces the field's own default, or None to
# keep it.
DEPENDENT_DEFAULTS: dict[str, Callable[[object, Mapping[str, str]], Any]] = {
    "topology": _topology,
    "async_handlers": _inline_on_lambda,
    "embedded_relay": _no_embedded_relay,
    "nonce_store": _nonces_in_the_cache,
    "otel": _otel_asked_for,
    "metrics_emf": _emf_on_lambda,
}


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
