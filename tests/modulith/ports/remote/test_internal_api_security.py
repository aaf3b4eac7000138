"""The internal API gives nothing away: it checks the signature before it says anything, signs
the caller's name, remembers nonces where every instance of the provider sees them, and
answers a failure without its exception; the client behind it fails over in bounded time.
(Attacks on a running provider: tests/security/.)"""

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import httpx
import pytest

from contracts.inventory import InventoryQueries, StockReserved
from contracts.orders import OrderQueries
from modulith.bus import DependencyUnavailable, Envelope
from modulith.conf.keys import SigningKeys
from modulith.contracts import ProviderError, ProviderUnavailable
from modulith.ports.remote.signing import CALLER, NONCE, Signer
from modulith.runtime import runtime
from modulith.testing import wait_until
from tests.celery.conftest import RedisServer, redis_server  # noqa: F401  (the shared cache)
from tests.modulith.ports.remote.conftest import (
    PRICES,
    SIGNER,
    FakeProvider,
    inventory_alone,
    orders_without_inventory,
    running_only,
)
from tests.service import Service

pytestmark = [pytest.mark.django_db(transaction=True, databases="__all__"), pytest.mark.slow]

BODY = b'{"skus": ["KB-1"]}'
UNKNOWN = [
    "/internal/inventory/InventoryQueries/delete_everything",
    "/internal/inventory/NoSuchQueries/prices",
    "/internal/nosuchmodule/InventoryQueries/prices",
]


def post(url: str, path: str, headers: dict[str, str], body: bytes = BODY) -> httpx.Response:
    return httpx.post(url + path, content=body, headers=headers, timeout=5)


@pytest.mark.parametrize("path", UNKNOWN)
@pytest.mark.parametrize("signed_by", [None, "wrong-secret"])
def test_an_unknown_port_is_refused_exactly_like_a_known_one_before_the_signature(
    inventory_service: Service, path: str, signed_by: str | None
) -> None:
    def headers(to: str) -> dict[str, str]:
        if signed_by is None:
            return {}
        return Signer(SigningKeys.single(signed_by)).headers("POST", to, BODY, "orders")

    known = post(inventory_service.url, PRICES, headers(PRICES))
    unknown = post(inventory_service.url, path, headers(path))

    assert known.status_code == unknown.status_code == 401
    assert known.content == unknown.content


def test_only_a_signed_call_learns_that_a_port_method_does_not_exist(
    inventory_service: Service,
) -> None:
    path = UNKNOWN[0]

    answer = post(inventory_service.url, path, SIGNER.headers("POST", path, BODY, "orders"))

    assert answer.status_code == 404
    assert answer.json()["error"] == "not_found"


def test_a_tampered_caller_name_is_refused(inventory_service: Service) -> None:
    signed = SIGNER.headers("POST", PRICES, BODY, caller="orders")
    tampered = post(inventory_service.url, PRICES, {**signed, CALLER: "payments"})
    untouched = post(inventory_service.url, PRICES, signed)

    assert tampered.status_code == 401
    assert tampered.json() == {
        "error": "unauthorized",
        "message": "the signature does not match",
    }
    assert untouched.status_code == 200, untouched.text  # the same nonce, not used up


def test_invalid_arguments_name_the_field_without_echoing_the_values_sent(
    inventory_service: Service,
) -> None:
    body = b'{"skus": "KB-SECRET-VALUE"}'
    headers = SIGNER.headers("POST", PRICES, body, caller="orders")

    answer = post(inventory_service.url, PRICES, headers, body)

    assert answer.status_code == 422
    assert answer.json()["error"] == "invalid_arguments"
    assert answer.json()["message"].startswith("skus: ")
    assert "KB-SECRET-VALUE" not in answer.text


@pytest.fixture(scope="module")
def providers_sharing_redis(
    redis_server: RedisServer,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
    django_db_setup: None,
) -> Iterator[list[Service]]:
    """Two instances of the inventory service, their cache one real Redis."""
    log_dir = tmp_path_factory.mktemp("inventory-pair")
    pair = [
        inventory_alone(log_dir, f"inventory-{n}", MODULITH_CACHE_URL=redis_server.url)
        for n in (1, 2)
    ]
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            for started in [pool.submit(service.start) for service in pair]:
                started.result()
        yield pair
    finally:
        for service in pair:
            service.stop()


def test_a_replay_to_another_instance_of_the_provider_is_refused(
    providers_sharing_redis: list[Service],
    redis_server: RedisServer,  # noqa: F811
) -> None:
    first, second = providers_sharing_redis
    headers = SIGNER.headers("POST", PRICES, BODY, caller="orders")

    answered = post(first.url, PRICES, headers)
    replayed = post(second.url, PRICES, headers)

    assert answered.status_code == 200, answered.text
    assert replayed.status_code == 401
    assert replayed.json()["message"] == "the signature was already used (a replay)"
    # Django's Redis cache prefixes keys with ":<version>:"; it expires with the signature.
    key = f":1:modulith:nonce:{headers[NONCE]}"
    assert redis_server.client().exists(key) == 1
    assert 0 < redis_server.client().ttl(key) <= 120


@pytest.fixture(scope="module")
def broken_inventory(
    tmp_path_factory: pytest.TempPathFactory,
    django_db_setup: None,  # the service shares the test databases: made before it starts
) -> Iterator[Service]:
    """An inventory whose tables are missing: every query fails inside the provider."""
    log_dir = tmp_path_factory.mktemp("inventory-broken")
    never_migrated = f"sqlite:///{log_dir / 'never-migrated.sqlite3'}"
    with inventory_alone(
        log_dir, "inventory-broken", INVENTORY_DATABASE_URL=never_migrated
    ) as service:
        yield service


def test_a_provider_failure_answers_without_the_exception(broken_inventory: Service) -> None:
    headers = SIGNER.headers("POST", PRICES, BODY, caller="orders")

    answer = post(broken_inventory.url, PRICES, headers)

    assert answer.status_code == 500
    assert answer.json() == {
        "error": "provider_error",
        "message": "InventoryQueries.prices failed",
    }
    assert "no such table" not in answer.text
    assert "no such table" in broken_inventory.output()  # logged where it happened


def test_the_caller_sees_which_method_failed_and_nothing_more(
    settings: Any, broken_inventory: Service
) -> None:
    orders_without_inventory(settings, broken_inventory.url)

    with pytest.raises(ProviderError) as raised:
        runtime().ports.resolve(InventoryQueries).prices(["KB-1"])

    assert str(raised.value) == "inventory failed: HTTP 500: InventoryQueries.prices failed"


def test_an_html_error_page_is_described_not_passed_on(
    settings: Any, fake_provider: FakeProvider
) -> None:
    """A provider's debug page (or a proxy's error page) is nobody's message: the caller's
    error, and so its log, says what kind of body came back, not what it held."""
    fake_provider.status = 500
    fake_provider.content_type = "text/html; charset=utf-8"
    fake_provider.body = b"<html><title>OperationalError at /internal/</title>...</html>"
    orders_without_inventory(settings, fake_provider.url)

    with pytest.raises(ProviderError) as raised:
        runtime().ports.resolve(InventoryQueries).prices(["KB-1"])

    assert str(raised.value) == "inventory failed: HTTP 500: 61 bytes of text/html"


RESET = 0.5


def refusal(port: InventoryQueries) -> str:
    """Why a call is refused now ("" if it is answered)."""
    try:
        port.prices(["KB-1"])
    except ProviderUnavailable as refused:
        return str(refused)
    return ""


def test_after_the_provider_is_back_a_call_succeeds_within_one_trial_interval(
    settings: Any, fake_provider: FakeProvider
) -> None:
    settings.MODULITH_BREAKER_RESET_SECONDS = RESET
    orders_without_inventory(settings, fake_provider.url)
    port = runtime().ports.resolve(InventoryQueries)
    fake_provider.status = 503
    for _ in range(5):
        with pytest.raises(ProviderUnavailable, match="HTTP 503"):
            port.prices(["KB-1"])
    with pytest.raises(ProviderUnavailable, match="circuit open"):
        port.prices(["KB-1"])
    before_trial = fake_provider.requests
    trial = wait_until(
        lambda: refusal(port),
        lambda refused: "circuit open" not in refused,
        awaiting=f"the breaker's trial call, {RESET} s after it opened",
        timeout=4 * RESET,
    )
    assert "HTTP 503" in trial  # the trial, still down
    assert fake_provider.requests > before_trial
    with pytest.raises(ProviderUnavailable, match="circuit open"):  # open again after it
        port.prices(["KB-1"])

    fake_provider.status = 200
    back = time.monotonic()
    answered = wait_until(
        lambda: port.prices(["KB-1"]),
        lambda prices: prices is not None,
        awaiting="a call to succeed once the provider is back",
        timeout=4 * RESET,
        ignoring=ProviderUnavailable,
    )

    assert answered == []
    assert time.monotonic() - back <= RESET + 0.25


def test_inside_a_delivery_a_remote_call_makes_one_attempt(
    settings: Any, fake_provider: FakeProvider
) -> None:
    """payments handles StockReserved by asking orders (elsewhere) what to charge."""
    running_only(settings, ["payments"], f"orders={fake_provider.url}")
    fake_provider.status = 503
    topology = runtime().topology

    with pytest.raises(ProviderUnavailable):  # a request: the client's own retries
        runtime().ports.resolve(OrderQueries).payment_request(uuid4())
    assert fake_provider.requests == 3

    stock_reserved = Envelope(
        event_id=uuid4(),
        event_name="StockReserved",
        source="inventory.service",
        occurred_at=datetime.now(UTC),
        schema_version=StockReserved.schema_version,
        data={"orderId": str(uuid4()), "items": [{"sku": "KB-1", "quantity": 1}]},
    )
    with pytest.raises(DependencyUnavailable):  # a delivery: the bus retries it later
        runtime().dispatcher.handle(stock_reserved, topology.module("payments"))
    assert fake_provider.requests == 3 + 1
