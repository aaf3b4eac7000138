"""Health endpoints for the load balancer and the orchestrator."""

import json
from typing import Any

import pytest
from django.test import Client

from tests.processes import run_python


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


@pytest.mark.django_db(databases="__all__")
def test_health_answers_whatever_the_host_header(client: Client, settings: Any) -> None:
    """A load balancer checks a task by its IP, which ALLOWED_HOSTS does not list."""
    settings.ALLOWED_HOSTS = ["shop.example.com"]

    assert client.get("/health/ready", HTTP_HOST="10.0.3.17:8000").status_code == 200
    assert client.get("/health/live", HTTP_HOST="10.0.3.17:8000").status_code == 200
    assert client.get("/api/inventory/products", HTTP_HOST="10.0.3.17:8000").status_code == 400


def test_health_refuses_other_methods(client: Client) -> None:
    assert client.post("/health/live").status_code == 405


@pytest.mark.django_db(databases="__all__")
def test_ready_is_unavailable_while_a_module_database_is_down() -> None:
    unreachable = "postgres://user:secret@127.0.0.1:9/payments?connect_timeout=2"
    probe = run_python(
        "import os, django, json\n"
        "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'config.settings')\n"
        "django.setup()\n"
        "from django.test import Client\n"
        "response = Client().get('/health/ready')\n"
        "print(response.status_code, json.dumps(response.json()))\n",
        PAYMENTS_DATABASE_URL=unreachable,
    )

    status, body = probe.stdout.split(" ", 1)
    assert status == "503", probe.stderr
    checks = json.loads(body)["databases"]
    assert checks["payments"].startswith("error: OperationalError")
    assert checks["orders"] == "ok"
