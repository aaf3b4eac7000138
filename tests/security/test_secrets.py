"""The keys of internal calls never leave the process: not on Django's debug page of a failure
inside verification (with DEBUG on, which masks no local variable, and off, which masks those
marked sensitive), not in a log line, whichever way a call fails."""

import json
import sys
from typing import Any

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import Client, RequestFactory
from django.views.debug import (
    ExceptionReporter,
    SafeExceptionReporterFilter,
    technical_500_response,
)

from modulith.conf import ModulithSettings
from modulith.http.internal import internal_call, verify
from modulith.ports.remote.nonces import NonceStoreUnavailable
from tests.modulith.observability.conftest import LogLines, json_log  # noqa: F401
from tests.modulith.ports.remote.conftest import PRICES, orders_without_inventory
from tests.processes import free_port
from tests.security.conftest import CURRENT, key, leaks, signer
from tests.service import Service
from tests.shop import place

pytestmark = [pytest.mark.django_db(transaction=True, databases="__all__"), pytest.mark.slow]

BODY = b'{"skus": ["KB-1"]}'


@pytest.fixture
def store_down(settings: Any) -> None:
    """This process answers internal calls with CURRENT (a Django setting: the debug page lists
    the settings), its nonces in a Redis that does not answer: verification fails inside."""
    settings.CACHES = {
        **settings.CACHES,
        "down": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
        },
    }
    settings.MODULITH_INTERNAL_KEYS = CURRENT
    settings.MODULITH_NONCE_STORE = "cache"
    settings.MODULITH_NONCE_CACHE = "down"


def signed_request() -> HttpRequest:
    return RequestFactory().post(
        PRICES,
        BODY,
        content_type="application/json",
        headers=signer(CURRENT).headers("POST", PRICES, BODY, "orders"),
    )


def failure_inside_verification(request: HttpRequest) -> tuple[Any, Any, Any]:
    """What Django's handler would get, had the failure escaped the view. (A function of its
    own: the traceback starts here, not in a test holding the keys.)"""
    try:
        verify(request)
    except NonceStoreUnavailable:
        return sys.exc_info()
    pytest.fail("verification did not fail")


@pytest.mark.usefixtures("store_down")
def test_the_debug_page_of_a_failure_inside_verification_shows_no_key(settings: Any) -> None:
    settings.DEBUG = True
    request = signed_request()
    failure = failure_inside_verification(request)

    page: HttpResponse = technical_500_response(request, *failure)
    html = page.content.decode()
    text = ExceptionReporter(request, *failure).get_traceback_text()

    assert page.status_code == 500
    assert "NonceStoreUnavailable" in html
    # The frames' local variables are on the page (DEBUG on masks none of them)...
    assert "SigningKeys(ids=(&#x27;current&#x27;,))" in html
    # ...and the settings, MODULITH_INTERNAL_KEYS among them, by name.
    assert "MODULITH_INTERNAL_KEYS" in html
    assert not leaks(html, CURRENT), "the debug page shows the key"
    assert not leaks(text, CURRENT), "the debug page, as text, shows the key"


def test_djangos_filter_masks_every_secret_setting_of_modulith() -> None:
    secret_settings = ModulithSettings.secrets()
    masked = SafeExceptionReporterFilter()

    assert sorted(secret_settings) == [
        "MODULITH_API_KEYS",
        "MODULITH_INTERNAL_KEYS",
        "MODULITH_INTERNAL_SECRET",
        "MODULITH_METRICS_TOKEN",
    ]
    for name in secret_settings:  # by name: on the debug page, and in META under runserver
        assert masked.cleanse_setting(name, "a-value") == masked.cleansed_substitute, name


@pytest.mark.usefixtures("store_down")
def test_the_report_mailed_to_admins_with_debug_off_shows_no_key(settings: Any) -> None:
    settings.DEBUG = False
    request = signed_request()

    report = ExceptionReporter(request, *failure_inside_verification(request), is_email=True)

    assert not leaks(report.get_traceback_text() + report.get_traceback_html(), CURRENT)


@pytest.mark.usefixtures("store_down")
def test_a_store_that_is_down_is_a_503_whose_log_line_shows_no_key(
    json_log: LogLines,  # noqa: F811
) -> None:
    answer = internal_call(signed_request(), PRICES.removeprefix("/internal/"))

    assert answer.status_code == 503
    assert json.loads(answer.content)["error"] == "unavailable"
    [logged] = [line for line in json_log() if line["logger"] == "modulith.http.internal"]
    assert logged["message"].startswith("cannot check internal calls for replays: ConnectionError")
    assert not leaks(json.dumps(json_log()), CURRENT)


def test_no_log_line_of_a_refused_call_shows_a_key_on_either_side(
    settings: Any,
    client: Client,
    provider: Service,
    json_log: LogLines,  # noqa: F811
) -> None:
    """This process, as the orders service, calls the provider with a key it does not hold:
    the provider refuses, the public client gets a 502, both sides log it, without a key."""
    stranger = key("stranger")
    orders_without_inventory(settings, provider.url, keys=stranger)

    refused = place(client, ("KB-1", 1))

    assert refused.status_code == 502
    lines = json.dumps(json_log())
    assert "the signing key is not one this service accepts" in lines
    assert not leaks(lines + provider.output() + refused.content.decode(), CURRENT, stranger)
