"""A Lambda function cannot be scraped: each invocation ends with the metrics it counted, as
CloudWatch Embedded Metric Format lines in its log, under the Prometheus names and labels."""

from collections.abc import Iterator
from typing import Any
from uuid import uuid4

import pytest
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from modulith.aws.lambdas import relay
from modulith.conf import ModulithSettings
from modulith.observability import emf
from tests.aws.emulator import AwsContext
from tests.aws.lambdas.test_relay import scheduled_event
from tests.aws.test_consumer import captured, use_queues
from tests.lambda_events import context
from tests.modulith.observability.emf_format import emf_document, metrics_in
from tests.outbox_rows import stored_events

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


@pytest.fixture
def metered() -> Iterator[None]:
    """EMF on, as on Lambda (where it is the default)."""
    emf.configure(enabled=True, interval=None)
    try:
        yield
    finally:
        emf.configure(enabled=False, interval=None)


def emf_lines(output: str) -> list[dict[str, Any]]:
    return [emf_document(line) for line in output.splitlines() if line.startswith('{"_aws"')]


def test_emf_is_on_by_default_on_lambda_and_off_elsewhere() -> None:
    project = type("Project", (), {"MODULITH_MANIFESTS": []})()

    on_lambda = ModulithSettings.load(project, {"AWS_LAMBDA_FUNCTION_NAME": "shop-orders-web"})
    elsewhere = ModulithSettings.load(project, {})

    assert (on_lambda.metrics_emf, elsewhere.metrics_emf) == (True, False)


def test_the_relay_invocation_ends_with_its_deliveries_and_the_outbox_gauges_as_emf(
    aws: AwsContext, settings: Any, capfd: pytest.CaptureFixture[str], metered: None
) -> None:
    use_queues(settings)
    stored_events("payments", "PaymentCaptured", "orders", captured(uuid4()), count=3)
    capfd.readouterr()

    relay.handler(scheduled_event(), context(60))

    documents = emf_lines(capfd.readouterr().out)
    found: dict[Any, float] = {}
    for document in documents:
        found |= metrics_in(document)
    payments = frozenset({("module", "payments")})
    assert found[("modulith_events_delivered_total", payments | {("route", "orders")})] == 3
    assert found[("modulith_outbox_pending", payments)] == 0
    assert found[("modulith_outbox_oldest_pending_age_seconds", payments)] == 0
    assert found[("modulith_dead_letters", payments)] == 0
    # What shares its dimensions shares a line: the module's deliveries and its gauges.
    [line] = [d for d in documents if d["module"] == "payments"]
    assert {"modulith_events_delivered_total", "modulith_outbox_pending"} <= line.keys()


def test_the_emf_names_and_dimensions_are_those_prometheus_exposes(
    aws: AwsContext, settings: Any, capfd: pytest.CaptureFixture[str], metered: None
) -> None:
    use_queues(settings)
    stored_events("payments", "PaymentCaptured", "orders", captured(uuid4()), count=2)
    capfd.readouterr()
    relay.handler(scheduled_event(), context(60))
    emitted = {
        key for document in emf_lines(capfd.readouterr().out) for key in metrics_in(document)
    }

    response = Client().get("/metrics")
    exposed = {
        (sample.name, frozenset(sample.labels.items()))
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }

    assert emitted, "the invocation wrote no metric"
    assert emitted <= exposed, emitted - exposed


def test_an_invocation_that_counted_nothing_writes_no_line(
    capfd: pytest.CaptureFixture[str], metered: None
) -> None:
    capfd.readouterr()

    assert emf.flush() == 0
    assert capfd.readouterr().out == ""
