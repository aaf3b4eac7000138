"""Secure by default: DEBUG is off unless development asks for it, `check --deploy` is clean
with the environment a deployment sets, HTTPS is enforced except where the network inside
calls over plain HTTP, and no traceback, Django page or URL list ever reaches a client of the
API, whatever DEBUG says. Attacked on a running gunicorn on 127.0.0.1."""

import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.processes import ROOT, TEST_API_KEY, environment_without_settings
from tests.security.deployed import (
    DEPLOYMENT,
    KEYED,
    OVER_TLS,
    PUBLIC_HOST,
    deployed,
    in_development,
    own_databases,
)
from tests.service import Service

pytestmark = pytest.mark.slow
TOO_LARGE = 3 * 1024 * 1024  # over Django's DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MiB)
ORDER = {"customerId": "c1", "items": [{"sku": "KB-1", "quantity": 1}]}


def check_deploy(tmp_path: Path, **env: str) -> str:
    """`manage.py check --deploy` as a fresh container runs it, with `env`; its output."""
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={**environment_without_settings(), **own_databases(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return f"exit {result.returncode}\n{result.stdout}{result.stderr}"


def test_check_deploy_is_clean_with_debug_off_and_the_deployment_environment(
    tmp_path: Path,
) -> None:
    assert check_deploy(tmp_path, **DEPLOYMENT) == (
        "exit 0\nSystem check identified no issues (0 silenced).\n"
    )


def test_check_deploy_is_clean_by_default_and_warns_for_what_a_deployment_turns_off(
    tmp_path: Path,
) -> None:
    """DEBUG unset is off, and every HTTPS setting then defaults to on; turning one off, or
    DEBUG on, is what --deploy warns about."""
    secrets = {name: DEPLOYMENT[name] for name in ("DJANGO_SECRET_KEY", "MODULITH_API_KEYS")}

    by_default = check_deploy(tmp_path, **secrets)
    turned_off = check_deploy(
        tmp_path, **secrets, DJANGO_SECURE_SSL_REDIRECT="0", DJANGO_SECURE_HSTS_SECONDS="0"
    )
    debug_on = check_deploy(tmp_path, DJANGO_DEBUG="1")

    assert by_default.startswith("exit 0\n"), by_default
    assert "security.W008" in turned_off, turned_off
    assert "security.W004" in turned_off, turned_off
    for warning in ("W004", "W008", "W012", "W016", "W018"):
        assert f"security.{warning}" in debug_on, debug_on


def test_the_image_and_its_entrypoint_never_turn_debug_on() -> None:
    """What a container runs unless its deployment says otherwise (the entrypoint's tests run
    it with no DJANGO_DEBUG and see the development key refused)."""
    instructions = (ROOT / "Dockerfile").read_text().replace("\\\n", " ").splitlines()
    environment = [line for line in instructions if line.startswith("ENV ")]

    assert environment, "the Dockerfile sets no environment"
    assert not any("DJANGO_DEBUG" in line for line in environment), environment
    assert "DJANGO_DEBUG" not in (ROOT / "deploy" / "entrypoint.sh").read_text()


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    with deployed(tmp_path_factory.mktemp("deployed")) as service:
        yield service


@pytest.fixture(scope="module")
def development(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    directory = tmp_path_factory.mktemp("development")
    with in_development(directory, MODULITH_API_KEYS=TEST_API_KEY) as service:
        yield service


def test_the_api_over_plain_http_is_redirected_to_https(shop: Service) -> None:
    response = httpx.get(f"{shop.url}/api/orders/{uuid.uuid4()}", headers={"Host": PUBLIC_HOST})

    assert response.status_code == 301
    assert response.headers["Location"].startswith(f"https://{PUBLIC_HOST}/api/orders/")


def test_the_api_over_tls_answers_with_hsts(shop: Service) -> None:
    response = httpx.get(
        f"{shop.url}/api/orders/not-a-uuid", headers={**KEYED, "Host": PUBLIC_HOST}
    )

    assert response.status_code == 422, response.text
    assert response.headers["Strict-Transport-Security"] == (
        "max-age=31536000; includeSubDomains; preload"
    )


@pytest.mark.parametrize("path", ["/health/live", "/health/ready", "/metrics"])
def test_health_checks_and_scrapes_over_plain_http_are_not_redirected(
    shop: Service, path: str
) -> None:
    """A load balancer's health checks and a scraper call the task over plain HTTP."""
    assert httpx.get(shop.url + path).status_code == 200


def test_internal_calls_over_plain_http_are_not_redirected(shop: Service) -> None:
    """Services call each other over plain HTTP inside the network: refused here for want of
    a signature, never redirected."""
    response = httpx.post(f"{shop.url}/internal/inventory/InventoryQueries/prices", content=b"{}")

    assert response.status_code in {401, 403}, response.text
    assert "Location" not in response.headers


def test_a_host_outside_allowed_hosts_is_refused(shop: Service) -> None:
    response = httpx.get(
        f"{shop.url}/api/orders/not-a-uuid", headers={**KEYED, "Host": "attacker.example"}
    )

    assert response.status_code == 400
    assert "attacker.example" not in response.text


def test_the_development_api_key_is_refused(shop: Service) -> None:
    response = httpx.post(
        f"{shop.url}/api/orders", json=ORDER, headers={**OVER_TLS, "X-API-Key": "dev-api-key"}
    )

    assert response.status_code == 401, response.text


@pytest.fixture(params=["deployed", "development"])
def either(request: pytest.FixtureRequest) -> Service:
    """The same attack on DEBUG off and DEBUG on: the API answers alike."""
    service: Service = request.getfixturevalue(
        "shop" if request.param == "deployed" else "development"
    )
    return service


def assert_no_internals(response: httpx.Response) -> None:
    text = response.text
    for leak in ("Traceback", 'File "', "internal/", "urlpatterns", "DJANGO_", "SECRET"):
        assert leak not in text, text[:2000]
    assert response.headers["Content-Type"].startswith("application/json"), response.headers


def test_a_body_over_the_limit_is_a_413_in_the_api_shape(either: Service) -> None:
    response = httpx.post(
        f"{either.url}/api/orders",
        content=b"{" + b" " * TOO_LARGE + b"}",
        headers={**KEYED, "Content-Type": "application/json"},
        timeout=30,
    )

    assert response.status_code == 413, response.text[:500]
    assert_no_internals(response)
    assert response.json() == {
        "error": "payload_too_large",
        "message": "the body is larger than the 2621440 bytes this API accepts",
        "errors": [],
    }


@pytest.mark.parametrize("path", ["/api/nothing-here", "/api/orders/x/y", "/api/"])
def test_an_unknown_path_under_the_api_is_a_json_404_that_lists_nothing(
    either: Service, path: str
) -> None:
    response = httpx.get(either.url + path, headers=KEYED)

    assert response.status_code == 404, response.text[:500]
    assert_no_internals(response)
    assert response.json()["error"] == "not_found"


def test_an_unknown_path_elsewhere_lists_no_pattern_with_debug_off(shop: Service) -> None:
    response = httpx.get(f"{shop.url}/nothing-here", headers=OVER_TLS)

    assert response.status_code == 404
    assert "internal/" not in response.text
    assert "api/" not in response.text


def test_a_failure_is_a_500_with_the_trace_id_and_no_traceback(either: Service) -> None:
    """The orders database has no tables: the read fails in the database, for real."""
    response = httpx.get(f"{either.url}/api/orders/{uuid.uuid4()}", headers=KEYED)

    assert response.status_code == 500, response.text[:500]
    assert_no_internals(response)
    body = response.json()
    trace = response.headers["X-Trace-Id"]
    assert body == {
        "error": "internal_error",
        "message": f"the server failed to answer; quote trace id {trace} when you report it",
        "errors": [],
        "traceId": trace,
    }
    assert "no such table" in either.output()  # the detail is in the log, with the trace id


@pytest.mark.parametrize(
    "headers",
    [
        {"Content-Type": "text/plain"},
        {"Content-Type": "application/x-www-form-urlencoded"},
        {},  # no Content-Type at all
    ],
    ids=["text", "form", "none"],
)
def test_a_body_that_is_not_json_is_a_415_naming_what_is_accepted(
    either: Service, headers: dict[str, str]
) -> None:
    response = httpx.post(
        f"{either.url}/api/orders",
        content=b'{"customerId": "c1"}',
        headers={**KEYED, **headers},
    )

    assert response.status_code == 415, response.text
    assert response.json()["error"] == "unsupported_media_type"
    assert "application/json" in response.json()["message"]
