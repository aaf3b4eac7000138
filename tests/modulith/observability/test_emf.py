"""The metrics as CloudWatch Embedded Metric Format lines: what shares its dimensions shares a
line, each line is a valid EMF document, and a process that is not a Lambda function writes
them every interval with its outbox gauges."""

import json
import time
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
from django.test import Client

from modulith.observability import emf
from modulith.testing import wait_until
from tests.conftest import API_KEY
from tests.modulith.observability.emf_format import emf_document, metrics_in
from tests.shop import place, stock

PUBLISHED = emf.Metric("modulith_events_published_total", "Count", gauge=False)
HANDLED = emf.Metric("modulith_messages_handled_total", "Count", gauge=False)
PAUSED = emf.Metric("modulith_consumer_paused", "None", gauge=True)


@pytest.fixture
def recorder() -> emf.Recorder:
    recorder = emf.Recorder()
    recorder.enabled = True
    return recorder


def lines_of(recorder: emf.Recorder) -> list[dict[str, Any]]:
    written: list[str] = []
    recorder.flush(written.append)
    return [emf_document(line) for line in written]


def test_values_whose_dimensions_agree_share_one_line(recorder: emf.Recorder) -> None:
    orders = (("module", "orders"),)
    recorder.add(PUBLISHED, (*orders, ("event", "OrderPlaced")), 2)
    recorder.add(HANDLED, (*orders, ("outcome", "handled")), 1)
    recorder.set(PAUSED, orders, 0)

    [document] = lines_of(recorder)

    assert metrics_in(document) == {
        ("modulith_events_published_total", frozenset({*orders, ("event", "OrderPlaced")})): 2,
        ("modulith_messages_handled_total", frozenset({*orders, ("outcome", "handled")})): 1,
        ("modulith_consumer_paused", frozenset(orders)): 0,
    }


def test_two_values_of_one_dimension_take_two_lines(recorder: emf.Recorder) -> None:
    recorder.add(PUBLISHED, (("module", "orders"), ("event", "OrderPlaced")), 1)
    recorder.add(PUBLISHED, (("module", "orders"), ("event", "OrderCancelled")), 1)

    documents = lines_of(recorder)

    assert sorted(d["event"] for d in documents) == ["OrderCancelled", "OrderPlaced"]


def test_a_counter_starts_again_after_a_flush_and_a_gauge_keeps_its_value(
    recorder: emf.Recorder,
) -> None:
    recorder.add(PUBLISHED, (("module", "orders"), ("event", "OrderPlaced")), 3)
    recorder.set(PAUSED, (("module", "orders"),), 1)
    lines_of(recorder)

    [document] = lines_of(recorder)

    assert metrics_in(document) == {
        ("modulith_consumer_paused", frozenset({("module", "orders")})): 1
    }


def test_a_recorder_switched_off_records_nothing() -> None:
    recorder = emf.Recorder()
    recorder.add(PUBLISHED, (("module", "orders"), ("event", "OrderPlaced")), 1)

    assert lines_of(recorder) == []


def a_document(dimensions: list[str], unit: str) -> str:
    directive = {
        "Namespace": "Modulith",
        "Dimensions": [dimensions],
        "Metrics": [{"Name": "x", "Unit": unit}],
    }
    return json.dumps(
        {"_aws": {"Timestamp": int(time.time() * 1000), "CloudWatchMetrics": [directive]}, "x": 1}
    )


def test_a_document_breaking_the_format_is_refused() -> None:
    """The checker itself can fail: a dimension with no member, a unit CloudWatch lacks."""
    with pytest.raises(AssertionError, match="dimension module"):
        emf_document(a_document(["module"], "Count"))
    with pytest.raises(jsonschema.ValidationError, match="'Units' is not one of"):
        emf_document(a_document([], "Units"))


@pytest.fixture
def every_second() -> Iterator[None]:
    emf.configure(enabled=True, interval=1)
    try:
        yield
    finally:
        emf.configure(enabled=False, interval=None)


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_a_long_running_process_writes_its_metrics_every_interval_with_its_outbox_gauges(
    capfd: pytest.CaptureFixture[str], every_second: None
) -> None:
    client = Client(HTTP_X_API_KEY=API_KEY)
    stock(client, "KB-001", 5)
    place(client, ("KB-001", 1))

    found: dict[Any, float] = {}
    wanted = ("modulith_outbox_pending", frozenset({("module", "orders")}))

    def written() -> dict[Any, float]:
        for line in capfd.readouterr().out.splitlines():
            if line.startswith('{"_aws"'):
                found.update(metrics_in(emf_document(line)))
        return found

    wait_until(
        written,
        lambda metrics: wanted in metrics,
        awaiting="the outbox gauges of orders in a metrics document",
        timeout=10,
        interval=0.2,
    )

    assert wanted in found, found
    assert ("modulith_dead_letters", frozenset({("module", "inventory")})) in found
    assert ("modulith_outbox_scheduled", frozenset({("module", "inventory")})) in found
    published = [key for key in found if key[0] == "modulith_events_published_total"]
    assert ("module", "orders") in set().union(*(labels for _, labels in published))
