"""The embedded relay runs in the processes that serve requests (gunicorn, runserver's serving
child), once each, and in no other (migrate, shell, check, the test client), whatever
MODULITH_EMBEDDED_RELAY says; MODULITH_EMBEDDED_RELAY=0 switches it off in servers too."""

import sys
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from django.test import Client

from modules.orders.models import Order, OrderStatus
from modulith.database.store.models import Delivery, DeliveryStatus
from modulith.testing import wait_until
from tests.outbox_rows import stored_events
from tests.processes import BackgroundProcess, free_port, manage
from tests.service import Service

pytestmark = [pytest.mark.django_db(transaction=True, databases="__all__"), pytest.mark.slow]

# A relay sweeping this often has swept many times in a second.
QUICKLY = {"MODULITH_EMBEDDED_RELAY": "1", "MODULITH_RELAY_INTERVAL": "0.1"}
STARTED = "embedded relay started"


def a_payment_waiting_for_the_relay() -> UUID:
    """An order waiting for its payment, and the payment's event committed in the payments
    outbox with its delivery to orders due: only a relay moves it."""
    order_id = uuid4()
    Order.objects.create(
        id=order_id,
        customer_id="c",
        total=Decimal("10.00"),
        currency="EUR",
        payment_token="tok_visa",
    )
    stored_events(
        "payments",
        "PaymentCaptured",
        "orders",
        {"orderId": str(order_id), "paymentId": str(uuid4()), "amount": "10.00", "currency": "EUR"},
    )
    return order_id


def delivered(order_id: UUID) -> bool:
    return Order.objects.get(id=order_id).status == OrderStatus.CONFIRMED


def still_pending() -> bool:
    return Delivery.objects.using("payments").get().status == DeliveryStatus.PENDING


def test_a_gunicorn_worker_runs_the_relay(tmp_path: Path) -> None:
    order_id = a_payment_waiting_for_the_relay()

    with Service(tmp_path, "web", env=QUICKLY) as web:
        wait_until(
            lambda: delivered(order_id),
            awaiting="the worker's relay to deliver the payment",
            timeout=15,
            details=web.output,
        )

    assert web.output().count(STARTED) == 1  # one worker, one relay


def test_runserver_runs_one_relay_in_its_serving_child_none_in_its_watcher(
    tmp_path: Path,
) -> None:
    order_id = a_payment_waiting_for_the_relay()
    port = free_port()
    runserver = BackgroundProcess(
        tmp_path / "runserver.log",
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}"],  # with its reloader
        {**QUICKLY, "PYTHONUNBUFFERED": "1"},
    )

    with runserver:
        runserver.launch(lambda: _answers(f"http://127.0.0.1:{port}/health/live"), what="runserver")
        wait_until(
            lambda: delivered(order_id),
            awaiting="the serving child's relay to deliver the payment",
            timeout=15,
            details=runserver.output,
        )
    # Both processes have exited, so their output is whole: the watcher had set Django up
    # (where anything it started would have started) before it started the serving child.
    assert runserver.output().count(STARTED) == 1, runserver.output()


# The threads of the shell's process, once Django is set up: a relay would be one of them.
THREADS = "import threading; print(sorted(thread.name for thread in threading.enumerate()))"


@pytest.mark.parametrize(
    "command",
    [["migrate"], ["check"], ["shell", "-c", THREADS]],
    ids=["migrate", "check", "shell"],
)
def test_a_management_command_runs_no_relay(command: list[str]) -> None:
    a_payment_waiting_for_the_relay()

    result = manage(*command, MODULITH_EMBEDDED_RELAY="1", MODULITH_RELAY_INTERVAL="0.1")

    assert result.returncode == 0, result.stderr
    assert STARTED not in result.stdout + result.stderr
    assert "modulith-relay" not in result.stdout
    assert still_pending()


def test_switched_off_a_server_runs_no_relay(tmp_path: Path) -> None:
    a_payment_waiting_for_the_relay()

    switched_off = {"MODULITH_EMBEDDED_RELAY": "0", "MODULITH_RELAY_INTERVAL": "0.1"}
    with Service(tmp_path, "web", env=switched_off) as web:
        for _ in range(10):
            httpx.get(f"{web.url}/health/live", timeout=5)
    # A relay starts within the first request a server answers, and says so before the
    # answer goes out; the server has exited since, its output whole.

    assert still_pending()
    assert STARTED not in web.output()


def test_a_test_s_requests_start_no_relay(client: Client, live_server: Any) -> None:
    """This process connected the relay to its first request (the default is on without a
    broker), but a test's requests, the test client's or a live server's, are not traffic."""
    client.get("/health/live")
    httpx.get(f"{live_server.url}/health/live", timeout=5)

    assert "modulith-relay" not in {thread.name for thread in threading.enumerate()}


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
