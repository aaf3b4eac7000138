"""Query ports across the network: a client generated from the port's type hints calls the
provider's signed internal endpoint; failures reach the caller as the contracts' errors."""

import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.test import Client

from contracts.inventory import InventoryQueries, ProductPrice
from modules.orders.models import Order
from modulith.conf.keys import SigningKeys
from modulith.contracts import ProviderError, ProviderUnavailable
from modulith.models import CallNonce
from modulith.ports.remote.signing import NONCE, Signer
from tests.modulith.observability.conftest import LogLines, json_log  # noqa: F401
from tests.modulith.ports.remote.conftest import (
    PRICES,
    SECRET,
    SIGNER,
    FakeProvider,
    orders_without_inventory,
)
from tests.processes import free_port
from tests.service import Service
from tests.shop import place, stock

pytestmark = [pytest.mark.django_db(transaction=True, databases="__all__"), pytest.mark.slow]


def test_a_remote_port_answers_like_the_local_one(
    client: Client, settings: Any, inventory_service: Service
) -> None:
    stock(client, "KB-1", 5, price="89.00")
    orders_without_inventory(settings, inventory_service.url)
    from modulith.runtime import runtime

    port = runtime().ports.resolve(InventoryQueries)

    assert type(port).__name__ == "RemoteInventoryQueries"
    assert port.prices(["KB-1", "NOPE"]) == [
        ProductPrice(sku="KB-1", unit_price=Decimal("89.00"), currency="EUR")
    ]


def test_arguments_are_validated_before_they_leave(
    settings: Any, inventory_service: Service
) -> None:
    orders_without_inventory(settings, inventory_service.url)
    from modulith.runtime import runtime

    with pytest.raises(ValueError, match="skus"):
        runtime().ports.resolve(InventoryQueries).prices("KB-1")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-API-Key": "dev-api-key"},
        Signer(SigningKeys.single("wrong-secret")).headers("POST", PRICES, b"{}", "orders"),
    ],
)
def test_an_unsigned_or_badly_signed_internal_call_is_refused(
    inventory_service: Service, headers: dict[str, str]
) -> None:
    response = httpx.post(inventory_service.url + PRICES, content=b"{}", headers=headers)

    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"


def test_a_replayed_signature_is_refused(inventory_service: Service) -> None:
    body = b'{"skus": ["KB-1"]}'
    headers = SIGNER.headers("POST", PRICES, body, caller="orders")

    first = httpx.post(inventory_service.url + PRICES, content=body, headers=headers)
    replay = httpx.post(inventory_service.url + PRICES, content=body, headers=headers)

    assert first.status_code == 200
    assert replay.status_code == 401
    assert "replay" in replay.json()["message"]
    # Remembered in a table of Django's own database, not the module's.
    assert CallNonce.objects.using("default").filter(nonce=headers[NONCE]).exists()


def test_internal_endpoints_are_not_under_the_public_api(inventory_service: Service) -> None:
    assert httpx.post(f"{inventory_service.url}/api{PRICES}", content=b"{}").status_code == 404


def test_an_unknown_port_method_is_a_404(inventory_service: Service) -> None:
    path = "/internal/inventory/InventoryQueries/delete_everything"
    headers = SIGNER.headers("POST", path, b"{}", caller="orders")

    assert (
        httpx.post(inventory_service.url + path, content=b"{}", headers=headers).status_code == 404
    )


def test_bad_arguments_are_a_422_from_the_provider(inventory_service: Service) -> None:
    body = b'{"skus": "KB-1"}'
    headers = SIGNER.headers("POST", PRICES, body, caller="orders")

    response = httpx.post(inventory_service.url + PRICES, content=body, headers=headers)

    assert response.status_code == 422
    assert "skus" in response.json()["message"]


def test_a_provider_that_is_down_is_unavailable_within_the_timeout_budget(settings: Any) -> None:
    orders_without_inventory(settings, f"http://127.0.0.1:{free_port()}")
    from modulith.runtime import runtime

    port = runtime().ports.resolve(InventoryQueries)
    started = time.monotonic()
    with pytest.raises(ProviderUnavailable, match="inventory is unavailable"):
        port.prices(["KB-1"])

    assert time.monotonic() - started < 5


def test_the_breaker_opens_after_repeated_failures_and_then_fails_fast(settings: Any) -> None:
    orders_without_inventory(settings, f"http://127.0.0.1:{free_port()}")
    from modulith.runtime import runtime

    port = runtime().ports.resolve(InventoryQueries)
    for _ in range(5):
        with pytest.raises(ProviderUnavailable):
            port.prices(["KB-1"])
    started = time.monotonic()
    with pytest.raises(ProviderUnavailable, match="circuit open"):
        port.prices(["KB-1"])

    assert time.monotonic() - started < 0.05


def test_placing_an_order_while_inventory_is_down_is_a_503_and_stores_nothing(
    settings: Any,
    client: Client,
    json_log: LogLines,  # noqa: F811
) -> None:
    orders_without_inventory(settings, f"http://127.0.0.1:{free_port()}")

    started = time.monotonic()
    response = place(client, ("KB-1", 1))

    # The framework's own mapping of its port errors: the project configures none. The client
    # reads what failed and what to do; how it failed is in the log, under the trace id.
    assert response.status_code == 503
    assert response.json() == {
        "error": "provider_unavailable",
        "message": "inventory is unavailable; try again later",
        "errors": [],
        "traceId": response["X-Trace-Id"],
    }
    [logged] = [line for line in json_log() if line["logger"] == "modulith.http.errors"]
    assert "ConnectError" in logged["message"]
    assert logged["trace_id"] == response["X-Trace-Id"]
    assert time.monotonic() - started < 5
    assert not Order.objects.exists()


def test_placing_an_order_while_inventory_refuses_the_call_is_a_502_and_stores_nothing(
    settings: Any,
    client: Client,
    fake_provider: FakeProvider,
    json_log: LogLines,  # noqa: F811
) -> None:
    fake_provider.status = 401  # answered, but with an error: no retry, no breaker
    fake_provider.body = {"error": "unauthorized", "message": "the signature is stale"}
    orders_without_inventory(settings, fake_provider.url)

    response = place(client, ("KB-1", 1))

    assert response.status_code == 502
    assert response.json()["error"] == "provider_error"
    assert response.json()["message"] == "inventory could not answer this request; try again later"
    assert "signature" not in response.text
    logged = [line["message"] for line in json_log() if line["logger"] == "modulith.http.errors"]
    assert logged == [
        "POST /api/orders answered 502: inventory failed: HTTP 401: the signature is stale"
    ]
    assert fake_provider.requests == 1
    assert not Order.objects.exists()


def test_a_provider_error_reaches_the_caller_as_a_provider_error(
    settings: Any, tmp_path: Path
) -> None:
    """An inventory whose tables are missing answers 500: a ProviderError, at once."""
    with Service(
        tmp_path,
        "inventory-broken",
        MODULITH_MODULES="inventory",
        MODULITH_TRANSPORT="sqs",
        MODULITH_INTERNAL_SECRET=SECRET,
        AWS_DEFAULT_REGION="us-east-1",
        INVENTORY_DATABASE_URL=f"sqlite:///{tmp_path / 'never-migrated.sqlite3'}",
    ) as broken:
        orders_without_inventory(settings, broken.url)
        from modulith.runtime import runtime

        with pytest.raises(ProviderError, match="HTTP 500"):
            runtime().ports.resolve(InventoryQueries).prices(["KB-1"])
