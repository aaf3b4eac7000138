"""Health endpoints for the load balancer and the orchestrator."""

import pytest
from django.test import Client


@pytest.mark.django_db(databases="__all__")
def test_ready_checks_every_module_database(client: Client) -> None:
    response = client.get("/health/ready")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "databases": {"default": "ok", "orders": "ok", "inventory": "ok", "payments": "ok"},
    }


def test_live_answers_without_touching_a_database(client: Client) -> None:
    response = client.get("/health/live")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_health_is_not_under_the_public_api(client: Client) -> None:
    assert client.get("/api/health/live").status_code == 404
