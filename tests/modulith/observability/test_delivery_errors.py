"""A delivery that raises off the request (on a thread, in a Celery task, in the embedded
relay's sweep) is logged and counted in modulith_delivery_errors_total: never silent."""

from typing import Any
from uuid import uuid4

import pytest
from django.test import Client
from django.utils.connection import ConnectionDoesNotExist

from modulith import Module
from modulith.database.store.models import Delivery
from modulith.outbox import executors
from modulith.outbox.embedded_relay import sweep_each
from modulith.runtime import runtime
from modulith.tasks import deliver
from modulith.testing import wait_until
from tests.modulith.observability.conftest import LogLines
from tests.modulith.observability.test_metrics import scrape, value
from tests.modulith.test_delivery import capture_payment_for, delivery_to

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

# No database has this alias: the relay raises as soon as it looks for the deliveries.
NOWHERE = Module(name="nowhere", app="nowhere")
ERRORS = "modulith_delivery_errors_total"


def test_a_delivery_that_raises_on_a_thread_is_logged_and_counted(
    client: Client, json_log: LogLines
) -> None:
    before = value(scrape(client), ERRORS, module="nowhere", executor="thread")
    threads = executors.ThreadPool(runtime().relay, workers=1)

    threads.after_commit("nowhere", [Delivery(pk=7), Delivery(pk=8)], all_stored=False)

    def failed() -> list[dict[str, Any]]:
        return [line for line in json_log() if line["logger"] == "modulith.outbox.executors"]

    wait_until(failed, awaiting="the delivery thread to log its failure", timeout=2)
    [line] = failed()
    assert line["level"] == "ERROR"
    assert line["message"].startswith("deliveries [7, 8] of nowhere failed after their commit")
    assert line["module"] == "nowhere"
    assert "ConnectionDoesNotExist" in line["exc_info"]
    assert value(scrape(client), ERRORS, module="nowhere", executor="thread") == before + 1


def test_a_delivery_that_raises_inline_is_logged_and_counted_and_the_caller_goes_on(
    client: Client, json_log: LogLines
) -> None:
    before = value(scrape(client), ERRORS, module="nowhere", executor="inline")

    executors.Inline(runtime().relay).after_commit("nowhere", [Delivery(pk=9)], all_stored=False)

    [line] = [line for line in json_log() if line["logger"] == "modulith.outbox.executors"]
    assert line["message"].startswith("deliveries [9] of nowhere failed after their commit")
    assert value(scrape(client), ERRORS, module="nowhere", executor="inline") == before + 1


def test_a_delivery_that_raises_in_a_celery_task_is_counted_and_raised(client: Client) -> None:
    before = value(scrape(client), ERRORS, module="nowhere", executor="celery")

    with pytest.raises(ConnectionDoesNotExist):
        deliver.apply(args=("nowhere", [7]))  # eager, propagating, as without a broker

    assert value(scrape(client), ERRORS, module="nowhere", executor="celery") == before + 1


def test_a_failed_sweep_of_one_module_is_logged_counted_and_the_others_are_swept(
    client: Client, json_log: LogLines
) -> None:
    capture_payment_for(uuid4())  # fails once (no such order) and is due again at once
    before = value(scrape(client), ERRORS, module="nowhere", executor="sweep")
    current = runtime()

    sweep_each(current.relay, [NOWHERE, current.topology.module("payments")], 2.0)

    [line] = [line for line in json_log() if line["logger"] == "modulith.outbox.embedded_relay"]
    assert line["level"] == "ERROR"
    assert line["message"] == "background relay sweep of nowhere failed; trying again in 2.0s"
    assert line["module"] == "nowhere"
    assert "ConnectionDoesNotExist" in line["exc_info"]
    assert value(scrape(client), ERRORS, module="nowhere", executor="sweep") == before + 1
    assert delivery_to("orders", "PaymentCaptured", "payments").attempts == 2
