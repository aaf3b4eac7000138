"""Every query the bus makes on its own tables uses an index, so the cost of an event does not
depend on how many came before it: the statements of a saga, a sweep (claims and purge), a
metrics scrape, and scheduled events cancelled, are captured as they run, then explained by the
database itself."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest
from django.db import connections, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from modulith import cancel_scheduled, publish
from modulith.database.store.models import Delivery, DeliveryStatus, OutboxEvent
from modulith.runtime import runtime
from tests.conftest import sweep
from tests.events import payment_failed
from tests.outbox_rows import stored_events
from tests.shop import place, stock

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

FRAMEWORK_TABLES = (
    "modulith_outboxevent",
    "modulith_delivery",
    "modulith_inboxrecord",
    "modulith_handlingfailure",
)
ALIASES = ("orders", "inventory", "payments")


def plan(alias: str, sql: str) -> list[str]:
    connection = connections[alias]
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}")
            return [str(row[-1]) for row in cursor.fetchall()]
        cursor.execute("SET enable_seqscan = off")  # what the plan would be with many rows
        try:
            cursor.execute(f"EXPLAIN {sql}")
            return [str(row[0]) for row in cursor.fetchall()]
        finally:
            cursor.execute("RESET enable_seqscan")


def full_scans(alias: str, lines: list[str]) -> list[str]:
    if connections[alias].vendor == "sqlite":
        # "SCAN t" reads the whole table; "SEARCH t USING INDEX" and "SCAN t USING INDEX"
        # on a covering index do not.
        return [line for line in lines if line.startswith("SCAN") and "USING" not in line]
    return [line for line in lines if "Seq Scan" in line]


def explainable(sql: str) -> bool:
    statement = sql.lstrip().split(None, 1)[0].upper()
    touches_framework = any(f'"{table}"' in sql or table in sql for table in FRAMEWORK_TABLES)
    return touches_framework and statement in {"SELECT", "UPDATE", "DELETE"}


@contextmanager
def capturing(*aliases: str) -> Iterator[dict[str, CaptureQueriesContext]]:
    """The statements each database is sent while the block runs."""
    contexts = {alias: CaptureQueriesContext(connections[alias]) for alias in aliases}
    for context in contexts.values():
        context.__enter__()
    try:
        yield contexts
    finally:
        for context in contexts.values():
            context.__exit__(None, None, None)


def scans_in(contexts: dict[str, CaptureQueriesContext]) -> tuple[int, dict[str, list[str]]]:
    """How many statements on the bus's tables were explained, and the full scans of each
    statement that makes any."""
    checked = 0
    scans = {}
    for alias, context in contexts.items():
        for query in context.captured_queries:
            sql = query["sql"]
            if not explainable(sql):
                continue
            checked += 1
            if found := full_scans(alias, plan(alias, sql)):
                scans[sql] = found
    return checked, scans


def test_the_saga_a_sweep_and_a_scrape_use_an_index_for_every_statement_on_the_outbox(
    client: Client, settings: Any
) -> None:
    settings.MODULITH_OUTBOX_RETENTION = timedelta(seconds=1)
    settings.MODULITH_METRICS_CACHE_SECONDS = 0  # the scrape below reads the gauges
    stock(client, "IDX-1", 10)
    with capturing(*ALIASES) as contexts:
        place(client, ("IDX-1", 1))
        place(client, ("IDX-1", 1), token="tok_chargeDeclined")
        sweep()  # claims, and the purge
        client.get("/metrics")  # the outbox gauges

    checked, scans = scans_in(contexts)
    assert checked > 20  # the claims, records, inbox checks, purges and gauges
    assert scans == {}


def test_scheduling_cancelling_and_purging_scheduled_events_use_an_index(
    client: Client, settings: Any
) -> None:
    settings.MODULITH_OUTBOX_RETENTION = timedelta(0)  # cancelled ones go at the next sweep
    settings.MODULITH_METRICS_CACHE_SECONDS = 0
    with capturing("payments") as contexts:
        with transaction.atomic(using="payments"):
            keyed = publish(payment_failed(uuid4()), delay=timedelta(days=1), schedule_key="k")
            by_id = publish(payment_failed(uuid4()), delay=timedelta(days=1))
        with transaction.atomic(using="payments"):
            assert cancel_scheduled(key="k") + cancel_scheduled(event_id=by_id) == 2
        client.get("/metrics")  # the scheduled gauges
        sweep()  # the purge of what was cancelled

    checked, scans = scans_in(contexts)
    assert checked >= 5  # the two cancels' reads and writes, the gauges, the purge
    assert scans == {}
    assert not OutboxEvent.objects.using("payments").filter(id__in=[keyed, by_id]).exists()


def test_the_purge_finds_expired_deliveries_by_their_time_not_among_every_delivered_one() -> None:
    # An index that only narrows to status = DELIVERED is no full scan, yet every sweep would
    # read every delivery ever made (the drain of 100k events spent half its time there).
    stored_events("payments", "PaymentCaptured", "orders", count=2000)
    Delivery.objects.using("payments").update(
        status=DeliveryStatus.DELIVERED, delivered_at=timezone.now()
    )
    connection = connections["payments"]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:  # what autovacuum does after such a load
            cursor.execute("ANALYZE modulith_delivery")
    with CaptureQueriesContext(connection) as context:
        runtime().relay.retention.purge("payments", outbox=timedelta(days=1), batches=1)
    expired = '"modulith_delivery"."delivered_at" <'
    (select,) = [
        query["sql"]
        for query in context.captured_queries
        if query["sql"].startswith("SELECT") and expired in query["sql"]
    ]
    lines = plan("payments", select)
    if connection.vendor == "sqlite":
        assert any("delivered_at<" in line for line in lines), lines
    else:
        assert any("Index Cond" in line and "delivered_at <" in line for line in lines), lines
