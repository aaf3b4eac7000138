"""Prometheus metrics at /metrics (not under /api/): counters of what the bus did, gauges of
what waits in every running module's outbox."""

from datetime import timedelta
from io import StringIO
from typing import Any
from uuid import uuid4

import pytest
from django.core.management import call_command
from django.db import transaction
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from modulith import publish
from modulith.aws.consumer import queue_consumer
from modulith.aws.context import aws_context
from modulith.runtime import runtime
from tests.aws.emulator import AwsContext
from tests.conftest import sweep
from tests.events import payment_failed
from tests.modulith.test_delivery import capture_payment_for, pending_order
from tests.outbox_rows import stored_events
from tests.processes import run_python
from tests.shop import place, stock

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


@pytest.fixture(autouse=True)
def _gauges_read_at_every_scrape(settings: Any) -> None:
    """These tests look at the outbox between two scrapes; the cache has its own test
    (tests/security/test_metrics_endpoint.py)."""
    settings.MODULITH_METRICS_CACHE_SECONDS = 0


def scrape(client: Client) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample at /metrics, by name and labels."""
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_the_counters_grow_with_an_order(client: Client) -> None:
    stock(client, "KB-1", 5)
    before = scrape(client)

    place(client, ("KB-1", 1))

    after = scrape(client)
    grew = {
        ("modulith_events_published_total", "orders", "event", "OrderPlaced"): 1,
        ("modulith_events_published_total", "inventory", "event", "StockReserved"): 1,
        ("modulith_events_published_total", "payments", "event", "PaymentCaptured"): 1,
        ("modulith_events_published_total", "orders", "event", "OrderConfirmed"): 1,
        # OrderPlaced and OrderConfirmed
        ("modulith_events_delivered_total", "orders", "route", "inventory"): 2,
        ("modulith_events_delivered_total", "inventory", "route", "payments"): 1,
        ("modulith_events_delivered_total", "payments", "route", "orders"): 1,
    }
    for (name, module, label, labelled), increase in grew.items():
        labels = {"module": module, label: labelled}
        assert value(after, name, **labels) == value(before, name, **labels) + increase, labels
    assert value(after, "modulith_outbox_pending", module="orders") == 0
    assert value(after, "modulith_dead_letters", module="orders") == 0


def test_the_gauges_show_a_pending_delivery_and_a_dead_letter(
    client: Client, settings: Any
) -> None:
    settings.MODULITH_RETRY_BASE_SECONDS = 30.0
    retried_before = value(
        scrape(client), "modulith_events_retried_total", module="payments", route="orders"
    )
    capture_payment_for(uuid4())  # fails (no such order) and waits 15-30 s for a retry
    # Data that can never be handled, as an older release could have stored it: dead at once.
    stored_events("payments", "PaymentCaptured", "orders", {"amount": "1", "currency": "E"})
    sweep()

    samples = scrape(client)

    assert value(samples, "modulith_outbox_pending", module="payments") == 1
    assert value(samples, "modulith_outbox_oldest_pending_age_seconds", module="payments") > 0
    assert value(samples, "modulith_dead_letters", module="payments") == 1
    assert value(samples, "modulith_outbox_pending", module="orders") == 0
    assert value(samples, "modulith_dead_letters", module="inventory") == 0
    assert (
        value(samples, "modulith_events_retried_total", module="payments", route="orders")
        == retried_before + 1
    )
    assert value(samples, "modulith_events_dead_total", module="payments", route="orders") >= 1


def test_the_gauges_count_scheduled_events_apart_and_say_how_late_a_due_one_is(
    client: Client,
) -> None:
    late_order = uuid4()
    pending_order(late_order)
    with transaction.atomic(using="payments"):
        publish(payment_failed(uuid4()), delay=timedelta(hours=1))
        publish(payment_failed(uuid4()), delay=timedelta(days=30))
        # Due 30 s ago, and no relay has swept since.
        publish(payment_failed(late_order), deliver_at=timezone.now() - timedelta(seconds=30))

    due = scrape(client)
    sweep()
    swept = scrape(client)

    payments = {"module": "payments"}
    assert value(due, "modulith_outbox_scheduled", **payments) == 2  # not due yet
    assert value(due, "modulith_outbox_pending", **payments) == 2  # the late one, to 2 modules
    assert 30 <= value(due, "modulith_outbox_scheduled_lateness_seconds", **payments) < 60
    # Late since its time, not since it was published (a moment ago).
    assert 30 <= value(due, "modulith_outbox_oldest_pending_age_seconds", **payments) < 60
    assert value(swept, "modulith_outbox_scheduled", **payments) == 2
    assert value(swept, "modulith_outbox_pending", **payments) == 0
    assert value(swept, "modulith_outbox_scheduled_lateness_seconds", **payments) == 0
    assert value(swept, "modulith_outbox_oldest_pending_age_seconds", **payments) == 0


def test_metrics_are_not_under_the_public_api(client: Client) -> None:
    assert client.get("/api/metrics").status_code == 404
    assert client.post("/metrics").status_code == 405


def test_a_consumer_counts_its_messages_by_outcome(
    client: Client,
    aws: AwsContext,
    settings: Any,
) -> None:
    settings.MODULITH_TRANSPORT = "sqs"
    call_command("provision", stdout=StringIO())
    current = runtime()
    consumer = queue_consumer(current, current.topology.module("orders"), wait_seconds=1)
    before = scrape(client)
    aws_context(current).sqs.send_message(
        QueueUrl=aws_context(current).queues.url("orders"), MessageBody="{"
    )

    for _ in range(5):
        if consumer.poll().settled:
            break

    dead = value(scrape(client), "modulith_messages_handled_total", module="orders", outcome="dead")
    assert (
        dead
        == value(before, "modulith_messages_handled_total", module="orders", outcome="dead") + 1
    )


def test_with_a_multiprocess_directory_the_counters_of_every_process_add_up(tmp_path) -> None:
    code = (
        "import django\n"
        "django.setup()\n"
        "from django.test import RequestFactory\n"
        "from modulith.observability.metrics import EVENTS_PUBLISHED, metrics_view\n"
        "EVENTS_PUBLISHED.labels('orders', 'OrderPlaced').inc()\n"
        "print(metrics_view(RequestFactory().get('/metrics')).content.decode())\n"
    )
    first = run_python(
        code, DJANGO_SETTINGS_MODULE="config.settings", PROMETHEUS_MULTIPROC_DIR=str(tmp_path)
    )
    second = run_python(
        code, DJANGO_SETTINGS_MODULE="config.settings", PROMETHEUS_MULTIPROC_DIR=str(tmp_path)
    )

    assert first.returncode == second.returncode == 0, first.stderr + second.stderr
    line = 'modulith_events_published_total{event="OrderPlaced",module="orders"} 2.0'
    assert line in second.stdout
    assert 'modulith_outbox_pending{module="orders"}' in second.stdout


def test_metrics_answer_only_a_host_of_allowed_hosts(client: Client, settings: Any) -> None:
    """A scrape is subject to ALLOWED_HOSTS like any request (with DEBUG off the settings add
    the task's own address, which a scraper sends as the Host)."""
    settings.ALLOWED_HOSTS = ["shop.example.com", "10.0.3.17"]

    answered = client.get("/metrics", HTTP_HOST="10.0.3.17:8000")
    refused = client.get("/metrics", HTTP_HOST="attacker.example")

    assert answered.status_code == 200
    assert b"modulith_events_published_total" in answered.content
    assert refused.status_code == 400
    assert b"modulith" not in refused.content
