"""`modulith.urls`, included at a project's root, serves the API of the running modules, the
signed internal endpoints of their query ports and (with the admin) the module map; the
framework's middleware answers health checks before any URL."""

import json
from typing import Any

import pytest
from django.test import Client

from modulith.conf.keys import SigningKeys
from modulith.ports.remote.signing import Signer

SECRET = "a-secret-shared-by-every-service"
PRICES = "/internal/inventory/InventoryQueries/prices"


@pytest.fixture
def only_modulith_urls(settings: Any) -> None:
    """A project whose URLs are the framework's and nothing else."""
    settings.ROOT_URLCONF = "modulith.urls"


@pytest.mark.usefixtures("only_modulith_urls")
def test_the_api_of_every_running_module_is_under_api(client: Client) -> None:
    schema = client.get("/api/openapi.json").json()

    assert schema["info"] == {"title": "Modulith shop", "version": "1.0.0", "description": ""}
    assert {path.split("/")[2] for path in schema["paths"]} == {"orders", "inventory", "payments"}


@pytest.mark.usefixtures("only_modulith_urls")
@pytest.mark.django_db(databases="__all__")
def test_a_query_port_answers_a_signed_call_under_internal(client: Client, settings: Any) -> None:
    settings.MODULITH_INTERNAL_SECRET = SECRET
    body = json.dumps({"skus": ["KB-1"]}).encode()

    unsigned = client.post(PRICES, body, content_type="application/json")
    signed = client.post(
        PRICES,
        body,
        content_type="application/json",
        headers=Signer(SigningKeys.single(SECRET)).headers("POST", PRICES, body, "orders"),
    )

    assert unsigned.status_code == 401
    assert signed.status_code == 200, signed.content
    assert client.post(f"/api{PRICES}", body, content_type="application/json").status_code == 404


@pytest.mark.usefixtures("only_modulith_urls")
def test_health_checks_answer_ahead_of_the_urls(client: Client) -> None:
    assert client.get("/health/live").json() == {"status": "ok"}


@pytest.mark.django_db(databases="__all__")
def test_the_project_s_urls_are_the_framework_s_and_the_admin(admin_client: Client) -> None:
    assert admin_client.get("/admin/modulith/module-map/").status_code == 200
    assert admin_client.get("/admin/").status_code == 200
    assert admin_client.get("/api/openapi.json").status_code == 200
