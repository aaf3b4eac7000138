"""The framework's settings: its defaults, where a value comes from, and a one-line error for
every bad value."""

from collections.abc import Mapping
from datetime import timedelta
from types import SimpleNamespace
from typing import Any, get_args, get_origin

import pytest
from django.conf import settings as django_settings
from django.test import override_settings
from pydantic.fields import FieldInfo

from modulith.conf import (
    HandlerMode,
    ModulithSettings,
    modulith_settings,
    refuse_development_key,
)
from modulith.conf.keys import SigningKeys
from modulith.conf.settings import setting_name
from modulith.conf.transports import TRANSPORTS
from modulith.modules import Topology
from modulith.modules.errors import ConfigurationError
from modulith.runtime import runtime
from modulith.runtime.bootstrap import EXECUTORS, build_runtime
from modulith.runtime.transports import TransportKind, transport_kind

MANIFESTS = django_settings.MODULITH_MANIFESTS


def load(environ: Mapping[str, str] | None = None, /, **project: Any) -> ModulithSettings:
    """The settings of a project that sets `project` (and its manifests), in `environ`."""
    return ModulithSettings.load(
        SimpleNamespace(MODULITH_MANIFESTS=MANIFESTS, **project), environ or {}
    )


def test_a_project_that_sets_nothing_gets_the_defaults() -> None:
    loaded = load()

    assert [module.name for module in loaded.topology.running_modules] == [
        "orders",
        "inventory",
        "payments",
    ]
    assert {
        field: getattr(loaded, field)
        for field in ModulithSettings.model_fields
        if field != "topology"
    } == {
        "transport": "inprocess",
        "async_handlers": "thread",
        "max_attempts": 5,
        "retry_base_seconds": 1.0,
        "retry_max_seconds": 300.0,
        "max_event_bytes": 10 * 1024 * 1024,
        "publish_versions": {},
        "relay_interval": 2.0,
        "claim_seconds": 15.0,
        "route_probe_max_seconds": 30.0,
        "outbox_retention": timedelta(days=7),
        "inbox_retention": timedelta(days=14),
        "embedded_relay": True,
        "api_keys": ("dev-api-key",),
        "api_title": "API",
        "api_version": "1.0.0",
        "internal_keys": SigningKeys(),
        "internal_secret": "",
        "internal_sigv4": False,
        "discovery": "static",
        "service_urls": "",
        "cloudmap_namespace": "internal",
        "remote_connect_timeout": 1.0,
        "remote_read_timeout": 3.0,
        "breaker_reset_seconds": 10.0,
        "nonce_store": "database",
        "nonce_cache": "default",
        "queue_prefix": "modulith",
        "event_bus": "modulith",
        "max_receives": 5,
        "claim_check": True,
        "claim_check_bucket": "",
        "claim_check_bytes": None,
        "visibility_timeout": 30,
        "consumer_wait_seconds": 20,
        "log_correlation_fields": (),
        "otel": False,
        "metrics_emf": False,
        "metrics_emf_interval": 60.0,
        "metrics_networks": ("127.0.0.0/8", "::1/128"),
        "metrics_token": "",
        "metrics_cache_seconds": 10.0,
    }


def test_the_environment_is_read_when_the_project_does_not_set_a_setting() -> None:
    loaded = load(
        {
            "MODULITH_MAX_ATTEMPTS": "7",
            "MODULITH_OUTBOX_RETENTION": "30m",
            "MODULITH_API_KEYS": "k1, k2",
            "MODULITH_EMBEDDED_RELAY": "off",
            "MODULITH_TRANSPORT": " sqs ",
            "MODULITH_RETRY_BASE_SECONDS": "",  # blank: unset
        }
    )

    assert loaded.max_attempts == 7
    assert loaded.outbox_retention == timedelta(minutes=30)
    assert loaded.api_keys == ("k1", "k2")
    assert loaded.embedded_relay is False
    assert loaded.transport == "sqs"
    assert loaded.retry_base_seconds == 1.0


def test_a_django_setting_wins_over_the_environment() -> None:
    loaded = load({"MODULITH_MAX_ATTEMPTS": "7"}, MODULITH_MAX_ATTEMPTS=3)

    assert loaded.max_attempts == 3


def test_a_django_setting_may_be_a_python_value_or_the_text_the_environment_would_give() -> None:
    loaded = load(
        MODULITH_OUTBOX_RETENTION=timedelta(hours=2),
        MODULITH_INBOX_RETENTION="21d",
        MODULITH_CLAIM_SECONDS=1,
        MODULITH_API_KEYS=["k1"],
        MODULITH_OTEL="1",
    )

    assert loaded.outbox_retention == timedelta(hours=2)
    assert loaded.inbox_retention == timedelta(days=21)
    assert loaded.claim_seconds == 1.0
    assert loaded.api_keys == ("k1",)
    assert loaded.otel is True


def test_the_topology_follows_modulith_modules() -> None:
    loaded = load({"MODULITH_MODULES": "payments", "MODULITH_TRANSPORT": "sqs"})

    assert [module.name for module in loaded.topology.running_modules] == ["payments"]


def test_the_embedded_relay_is_off_by_default_when_celery_has_a_broker() -> None:
    assert load(CELERY_BROKER_URL="memory://").embedded_relay is True
    assert load(CELERY_BROKER_URL="redis://127.0.0.1:6379/0").embedded_relay is False
    assert load(CELERY_BROKER_URL="redis://x", MODULITH_EMBEDDED_RELAY=True).embedded_relay


def test_on_lambda_deliveries_default_to_inline_and_the_embedded_relay_to_off() -> None:
    on_lambda = {"AWS_LAMBDA_FUNCTION_NAME": "modulith-orders-web"}

    assert (load(on_lambda).async_handlers, load(on_lambda).embedded_relay) == ("inline", False)
    assert load(on_lambda | {"MODULITH_ASYNC_HANDLERS": "celery"}).async_handlers == "celery"
    assert load(on_lambda, MODULITH_EMBEDDED_RELAY=True).embedded_relay is True  # refused later
    assert (load().async_handlers, load().embedded_relay) == ("thread", True)


def test_spans_are_on_by_default_when_opentelemetry_is_asked_for_an_exporter() -> None:
    assert load({"OTEL_TRACES_EXPORTER": "console"}).otel is True
    assert load({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}).otel is True
    assert load({"OTEL_TRACES_EXPORTER": "none"}).otel is False


def one_bad_value(field: FieldInfo) -> object:
    """A value of the wrong kind for the field."""
    kind = field.annotation
    if kind is str:
        return 42  # a Django setting that is not text
    if kind is bool:
        return "maybe"
    if kind in {int, float}:
        return "several"
    if kind is timedelta:
        return "soon"
    if kind is Topology:
        return "orders,payments"
    if get_origin(kind) is tuple:
        return 42
    return "nonsense"  # a choice, the keys


EVERY_SETTING = {setting_name(field): info for field, info in ModulithSettings.model_fields.items()}


@pytest.mark.parametrize("name", EVERY_SETTING)
def test_a_value_of_the_wrong_kind_is_one_line_naming_the_setting_and_what_it_accepts(
    name: str,
) -> None:
    with pytest.raises(ConfigurationError) as raised:
        load(**{name: one_bad_value(EVERY_SETTING[name])})

    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith(name), message
    assert " must " in message, message


# (the setting, a value out of bounds or unknown, what the one line says)
OUT_OF_BOUNDS = {
    "no-attempts": (
        "MODULITH_MAX_ATTEMPTS",
        "0",
        "MODULITH_MAX_ATTEMPTS must be at least 1, not 0",
    ),
    "negative-backoff": (
        "MODULITH_RETRY_BASE_SECONDS",
        "-1",
        "MODULITH_RETRY_BASE_SECONDS must be at least 0, not -1",
    ),
    "not-a-finite-number": (
        "MODULITH_CLAIM_SECONDS",
        "nan",
        "MODULITH_CLAIM_SECONDS must be a finite number, not nan",
    ),
    "a-longer-poll-than-sqs-allows": (
        "MODULITH_CONSUMER_WAIT_SECONDS",
        "21",
        "MODULITH_CONSUMER_WAIT_SECONDS must be at most 20, not 21",
    ),
    "an-unknown-transport": (
        "MODULITH_TRANSPORT",
        "carrier-pigeon",
        "MODULITH_TRANSPORT must be one of inprocess, sqs, sns, eventbridge, or the dotted path "
        "of a TransportKind (package.module:NAME), not 'carrier-pigeon'",
    ),
    "an-unknown-handler-mode": (
        "MODULITH_ASYNC_HANDLERS",
        "someday",
        "MODULITH_ASYNC_HANDLERS must be one of inline, thread, celery, not 'someday'",
    ),
    "an-unknown-discovery": (
        "MODULITH_DISCOVERY",
        "dns",
        "MODULITH_DISCOVERY must be one of static, cloudmap, not 'dns'",
    ),
    "a-network-that-is-not-one": (
        "MODULITH_METRICS_NETWORKS",
        "10.0.0.0/16,10.0.0.0/33",
        "MODULITH_METRICS_NETWORKS must list networks such as 10.0.0.0/16 or 127.0.0.1 "
        "(0.0.0.0/0 and ::/0 for any), not '10.0.0.0/33'",
    ),
    "a-negative-duration": (
        "MODULITH_OUTBOX_RETENTION",
        "-3d",
        "MODULITH_OUTBOX_RETENTION must be a duration such as 90 (seconds), 30m, 12h or 14d, "
        "not '-3d'",
    ),
}


@pytest.mark.parametrize(("name", "value", "line"), OUT_OF_BOUNDS.values(), ids=OUT_OF_BOUNDS)
def test_a_value_out_of_bounds_is_one_line_saying_what_is_accepted(
    name: str, value: str, line: str
) -> None:
    with pytest.raises(ConfigurationError) as from_environment:
        load({name: value})
    with pytest.raises(ConfigurationError) as from_django:
        load(**{name: value})

    assert str(from_environment.value) == line
    assert str(from_django.value) == line


def test_a_misspelt_setting_is_refused_rather_than_ignored() -> None:
    with pytest.raises(ConfigurationError) as raised:
        load(MODULITH_MAX_ATTEMPT=3, MODULITH_MAX_EVENT_BYTES="many")

    # Named before any bad value: the value it was meant to set is not in force either.
    assert str(raised.value).startswith(
        "MODULITH_MAX_ATTEMPT is not a modulith setting (did you mean MODULITH_MAX_ATTEMPTS?)"
    )


def test_a_variable_read_before_django_settings_exist_is_refused_as_a_django_setting() -> None:
    with pytest.raises(
        ConfigurationError, match=r"^MODULITH_CACHE_URL is read from the environment"
    ):
        load(MODULITH_CACHE_URL="redis://cache:6379/0")


def test_a_project_that_sets_no_manifests_has_no_modules_yet() -> None:
    loaded = ModulithSettings.load(SimpleNamespace(), {})

    assert loaded.topology.modules == ()


def test_a_project_with_no_module_yet_starts() -> None:
    loaded = ModulithSettings.load(SimpleNamespace(MODULITH_MANIFESTS=[]), {})

    assert loaded.topology.modules == ()


def test_manifests_that_are_not_a_list_are_refused() -> None:
    with pytest.raises(ConfigurationError, match=r"^MODULITH_MANIFESTS must be a list"):
        ModulithSettings.load(SimpleNamespace(MODULITH_MANIFESTS="a.module.manifest"), {})


def test_an_inbox_kept_less_than_the_redelivery_window_stops_the_start() -> None:
    with pytest.raises(ConfigurationError, match=r"^MODULITH_INBOX_RETENTION=3d is shorter"):
        build_runtime(load({"MODULITH_INBOX_RETENTION": "3d"}))


def test_the_development_key_is_refused_with_debug_off_only() -> None:
    refuse_development_key(load(), debug=True)
    refuse_development_key(load(MODULITH_API_KEYS=["k1"]), debug=False)

    with pytest.raises(ConfigurationError, match=r"^MODULITH_API_KEYS holds the development"):
        refuse_development_key(load(), debug=False)
    with pytest.raises(ConfigurationError, match=r"^MODULITH_API_KEYS holds the development"):
        refuse_development_key(load(MODULITH_API_KEYS="k1,dev-api-key"), debug=False)


def test_the_development_key_opens_nothing_where_no_module_serves_an_api() -> None:
    no_api = ModulithSettings.load(SimpleNamespace(), {})

    refuse_development_key(no_api, debug=False)


def test_every_transport_and_handler_mode_accepted_is_one_bootstrap_can_build() -> None:
    assert all(isinstance(transport_kind(name), TransportKind) for name in TRANSPORTS)
    assert tuple(EXECUTORS) == get_args(HandlerMode)


def test_a_misspelt_transport_is_refused_with_the_name_it_was_probably_meant_to_be() -> None:
    with pytest.raises(
        ConfigurationError, match="MODULITH_TRANSPORT=sqss is no transport: did you mean sqs"
    ):
        transport_kind("sqss")


def test_a_test_that_overrides_a_setting_gets_settings_and_a_runtime_that_follow_it() -> None:
    with override_settings(MODULITH_MAX_ATTEMPTS=2):
        assert modulith_settings().max_attempts == 2
        assert runtime().relay.policy.max_attempts == 2

    assert modulith_settings().max_attempts == 5
    assert runtime().relay.policy.max_attempts == 5


def test_a_bad_override_fails_and_leaves_the_settings_as_they_were() -> None:
    bad = override_settings(MODULITH_MAX_ATTEMPTS="abc")
    with pytest.raises(ConfigurationError, match="MODULITH_MAX_ATTEMPTS must be a whole number"):
        bad.enable()

    assert modulith_settings().max_attempts == 5


def test_publish_versions_come_as_a_dict_or_as_name_equals_version_text() -> None:
    from_text = load({"MODULITH_PUBLISH_VERSIONS": "StockReservationFailed=2, OrderPlaced=1"})
    from_dict = load(MODULITH_PUBLISH_VERSIONS={"StockReservationFailed": 2, "OrderPlaced": 1})

    assert from_text.publish_versions == {"StockReservationFailed": 2, "OrderPlaced": 1}
    assert from_dict.publish_versions == from_text.publish_versions
    with pytest.raises(ConfigurationError) as refused:
        load({"MODULITH_PUBLISH_VERSIONS": "StockReservationFailed=two"})
    assert str(refused.value) == (
        "MODULITH_PUBLISH_VERSIONS must map event names to major versions, such as "
        "{'OrderPlaced': 1} (or OrderPlaced=1,...), not 'StockReservationFailed=two'"
    )
