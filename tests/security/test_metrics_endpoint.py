"""/metrics answers only a Host of ALLOWED_HOSTS, only callers from MODULITH_METRICS_NETWORKS
(loopback by default: a sidecar agent), only with MODULITH_METRICS_TOKEN when one is set; and
however often it is scraped, it reads each module database once an interval."""

from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import pytest
from django.db import connections
from django.test import Client
from django.test.utils import CaptureQueriesContext

from modulith.conf.security import allowed_hosts
from modulith.database.store.models import Delivery
from modulith.runtime import runtime
from tests.security.deployed import deployed
from tests.service import Service

TOKEN = "a-metrics-token-for-these-tests-only"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
SCRAPES = 25


@pytest.fixture(scope="module")
def with_token(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    with deployed(tmp_path_factory.mktemp("token"), MODULITH_METRICS_TOKEN=TOKEN) as service:
        yield service


@pytest.mark.slow
def test_a_scrape_with_the_token_is_answered(with_token: Service) -> None:
    response = httpx.get(f"{with_token.url}/metrics", headers=BEARER)

    assert response.status_code == 200
    assert "modulith_events_published_total" in response.text


@pytest.mark.slow
@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}, {"Authorization": "Bearer"}],
    ids=["none", "wrong", "not-bearer", "empty"],
)
def test_a_scrape_without_the_token_is_refused(with_token: Service, headers: dict[str, str]):
    response = httpx.get(f"{with_token.url}/metrics", headers=headers)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert "modulith_" not in response.text


@pytest.mark.slow
def test_a_scrape_for_a_host_outside_allowed_hosts_is_refused(with_token: Service) -> None:
    response = httpx.get(
        f"{with_token.url}/metrics", headers={**BEARER, "Host": "attacker.example"}
    )

    assert response.status_code == 400
    assert "modulith_" not in response.text


@pytest.mark.slow
def test_a_scrape_by_the_tasks_own_address_is_answered(with_token: Service) -> None:
    """A scraper reaches a task (a pod) by its IP, and sends that as the Host: with DEBUG off
    the settings add this machine's own address to ALLOWED_HOSTS."""
    own = [host for host in allowed_hosts(debug=False, environ={}) if host[0].isdigit()]
    own = [host for host in own if host != "127.0.0.1"]
    assert own, "this machine has no address on a default route"

    response = httpx.get(f"{with_token.url}/metrics", headers={**BEARER, "Host": f"{own[0]}:80"})

    assert response.status_code == 200


@pytest.mark.slow
def test_a_scrape_from_outside_the_networks_is_refused_even_with_the_token(tmp_path) -> None:
    """This test calls from 127.0.0.1, which is not in 10.0.0.0/8."""
    with deployed(
        tmp_path, MODULITH_METRICS_TOKEN=TOKEN, MODULITH_METRICS_NETWORKS="10.0.0.0/8"
    ) as service:
        response = httpx.get(f"{service.url}/metrics", headers=BEARER)
        health = httpx.get(f"{service.url}/health/live")

    assert response.status_code == 403
    assert "modulith_" not in response.text
    assert health.status_code == 200  # health checks are not metrics


def outbox_reads(captured: dict[str, CaptureQueriesContext]) -> dict[str, int]:
    """Statements on the deliveries table (the outbox gauges' one aggregate), per database."""
    table = Delivery._meta.db_table
    return {
        alias: sum(table in query["sql"] for query in context.captured_queries)
        for alias, context in captured.items()
    }


def scraped(client: Client, times: int) -> dict[str, int]:
    aliases = [module.database for module in runtime().topology.running_modules]
    with ExitStack() as capturing:
        captured = {
            alias: capturing.enter_context(CaptureQueriesContext(connections[alias]))
            for alias in aliases
        }
        for _ in range(times):
            assert client.get("/metrics").status_code == 200
    return outbox_reads(captured)


@pytest.mark.django_db(transaction=True, databases="__all__")
@pytest.mark.parametrize(
    ("interval", "reads"),
    [(600, 1), (0, SCRAPES)],  # without an interval: the reads the interval saves
    ids=["an-interval", "no-interval"],
)
def test_however_often_it_is_scraped_each_database_is_read_once_an_interval(
    client: Client, settings: Any, interval: int, reads: int
) -> None:
    settings.MODULITH_METRICS_CACHE_SECONDS = interval

    assert scraped(client, SCRAPES) == {"orders": reads, "inventory": reads, "payments": reads}
