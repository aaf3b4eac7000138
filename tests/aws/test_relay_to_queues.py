"""The relay carries committed events to the queues of the modules that subscribe to them,
through SQS (SendMessageBatch), EventBridge (PutEvents) or SNS (PublishBatch), against the AWS
emulator: in the one wire format, to exactly the subscribers' queues, ten to a call, and with
nothing lost and nothing sent twice when AWS fails part of a batch, throttles, drops
connections or goes away.

Nothing consumes the queues here, so what the relay sent stays there to be read."""

import json
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from io import StringIO
from typing import Any
from uuid import UUID, uuid4

import pytest
from django.core.management import call_command
from django.db import transaction
from django.test import Client

from contracts.inventory import ReservedLine, StockReserved
from contracts.payments import PaymentFailed, PaymentRefunded
from modulith.aws.messages import SQS_MAX_MESSAGE_BYTES
from modulith.bus import Envelope, EventTooLarge, publish
from modulith.conf import modulith_settings
from modulith.database.store.models import Delivery, DeliveryStatus, OutboxEvent
from modulith.modules import Topology
from modulith.runtime import runtime
from modulith.runtime.transports import transport_kind
from modulith.testing import make_due, wait_until
from tests.aws.emulator import SHADOWING_VARIABLES, AwsContext, Emulator, aws_environment
from tests.aws.fault_proxy import FaultProxy
from tests.aws.queues import receive_all
from tests.aws.transports import PUBLISH_BATCH, RELAYED, SEND_BATCH, Relayed
from tests.conftest import sweep
from tests.shop import place, stock

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

# The subscribers of PaymentFailed.
SUBSCRIBERS = ("orders", "inventory")


# Steps ---------------------------------------------------------------------------------------


def use(settings: Any, transport: str) -> None:
    """This process now relays through `transport`, with its AWS resources provisioned.

    Setting a MODULITH_ setting rebuilds the runtime, so its boto3 clients are made from the
    environment as it is now (after the fault proxy, if the test has one, re-pointed it)."""
    settings.MODULITH_TRANSPORT = transport
    call_command("provision", stdout=StringIO())


@pytest.fixture(params=list(RELAYED))
def relayed(request: pytest.FixtureRequest, aws: AwsContext, settings: Any) -> Relayed:
    """This process relays through each transport in turn (after the fault proxy, if the test
    has one, re-pointed the environment)."""
    if "fault_proxy" in request.fixturenames:
        request.getfixturevalue("fault_proxy")
    use(settings, request.param)
    return RELAYED[request.param]


def reserve_stock(count: int, *, size: int = 0) -> list[UUID]:
    """`count` StockReserved events (one subscriber: payments), committed in one transaction;
    their deliveries are scheduled after the commit."""
    with transaction.atomic(using="inventory"):
        return [publish(reserved(size=size)) for _ in range(count)]


def reserved(*, size: int = 0) -> StockReserved:
    """A reservation of one line, or of as many lines as make `size` bytes of items on the
    wire (a SKU is at most 64 characters: a large event has many lines)."""
    line = ReservedLine(sku="L" * 64, quantity=1)
    line_bytes = len(line.model_dump_json(by_alias=True)) + 1  # and its comma
    lines = [line] * (size // line_bytes) if size else [ReservedLine(sku="SKU-1", quantity=1)]
    return StockReserved(order_id=uuid4(), items=lines)


def stock_reserved_envelope() -> Envelope:
    """A StockReserved event as inventory would send it, never stored in an outbox here."""
    return Envelope(
        event_id=uuid4(),
        event_name="StockReserved",
        source="inventory.service",
        occurred_at=datetime.now(UTC),
        schema_version="1.0",
        data={"orderId": str(uuid4()), "items": [{"sku": "SKU-1", "quantity": 1}]},
    )


def fail_payment() -> UUID:
    """A PaymentFailed event (subscribers: orders and inventory), committed."""
    with transaction.atomic(using="payments"):
        return publish(
            PaymentFailed(order_id=uuid4(), payment_id=uuid4(), reason="PAYMENT_DECLINED")
        )


def deliveries(alias: str, event_ids: list[UUID] | None = None) -> list[Delivery]:
    found = Delivery.objects.using(alias).order_by("id")
    if event_ids is not None:
        found = found.filter(event_id__in=event_ids)
    return list(found)


def statuses(alias: str, event_ids: list[UUID]) -> Counter[str]:
    return Counter(delivery.status for delivery in deliveries(alias, event_ids))


def sweep_until_delivered(alias: str, event_ids: list[UUID], timeout: float = 5.0) -> None:
    """Sweeps (each sweep makes one attempt at what is due) until every delivery of these
    events is delivered; bounded in time."""
    delivered = Counter({DeliveryStatus.DELIVERED: len(event_ids)})

    def swept() -> Counter[str]:
        sweep()
        return statuses(alias, event_ids)

    wait_until(
        swept,
        lambda seen: seen == delivered,
        awaiting=f"{len(event_ids)} deliveries of {alias} to be delivered",
        timeout=timeout,
        interval=0.05,
        details=lambda: deliveries(alias, event_ids),
    )


def queue_url(aws: AwsContext, module: str) -> str:
    sqs = aws.client("sqs")
    return str(sqs.get_queue_url(QueueName=f"{aws.prefix}-{module}")["QueueUrl"])


def messages_on(aws: AwsContext, module: str, expected: int) -> list[Any]:
    """What the module's queue holds: waits (bounded) for `expected` messages, then makes sure
    there are no more (each is hidden once received, so a second copy of one would be
    among them)."""
    return receive_all(aws.client("sqs"), queue_url(aws, module), expected)


def event_ids_on(aws: AwsContext, module: str, expected: int) -> list[str]:
    return [
        json.loads(message["Body"])["detail"]["metadata"]["eventId"]
        for message in messages_on(aws, module, expected)
    ]


def as_strings(event_ids: list[UUID]) -> list[str]:
    return sorted(str(event_id) for event_id in event_ids)


def attribute(message: Any, name: str) -> str:
    return str(message["MessageAttributes"][name]["StringValue"])


# The wire format, to exactly the subscribers' queues ---------------------------------------


def test_an_order_placed_reaches_the_inventory_queue_only_in_the_wire_format(
    aws: AwsContext, relayed: Relayed, client: Client
) -> None:
    stock(client, "KB-1", 5, price="4.50")

    response = place(client, ("KB-1", 2))

    assert response.status_code == 201, response.content
    order_id = response.json()["orderId"]
    stored = OutboxEvent.objects.using("orders").get(event_name="OrderPlaced")
    [delivery] = deliveries("orders", [stored.id])
    assert (delivery.route, delivery.status, delivery.attempts) == (
        relayed.route(aws, "orders", "inventory"),
        DeliveryStatus.DELIVERED,
        1,
    )
    [message] = messages_on(aws, "inventory", 1)
    body = json.loads(message["Body"])
    if relayed.raw:  # the wire JSON itself, its name and id in message attributes too
        assert body == stored.wire
        assert attribute(message, "eventType") == "OrderPlaced"
        assert attribute(message, "eventId") == str(stored.id)
        traceparent = stored.wire["detail"]["metadata"]["traceparent"]
        assert attribute(message, "traceparent") == traceparent
    else:  # EventBridge's own envelope around what PutEvents carried: its id is EventBridge's
        assert body["id"] != str(stored.id)
    assert body["source"] == "orders.service"
    assert body["detail-type"] == "OrderPlaced"
    assert body["detail"] == stored.wire["detail"]
    assert set(body["detail"]) == {"metadata", "data"}
    assert body["detail"]["metadata"]["eventId"] == str(stored.id)
    assert body["detail"]["data"]["orderId"] == order_id
    assert body["detail"]["data"]["items"] == [{"sku": "KB-1", "quantity": 2, "unitPrice": "4.50"}]
    max_bytes = modulith_settings().max_event_bytes
    assert Envelope.from_json(message["Body"], max_bytes=max_bytes).event_id == stored.id
    assert messages_on(aws, "orders", 0) == []
    assert messages_on(aws, "payments", 0) == []


def test_a_payment_failed_reaches_the_queues_of_orders_and_inventory_and_not_payments(
    aws: AwsContext, relayed: Relayed
) -> None:
    event_id = fail_payment()

    routes = sorted({relayed.route(aws, "payments", module) for module in SUBSCRIBERS})
    assert sorted(d.route for d in deliveries("payments")) == routes
    assert statuses("payments", [event_id]) == {DeliveryStatus.DELIVERED: len(routes)}
    for module in SUBSCRIBERS:
        [message] = messages_on(aws, module, 1)
        body = json.loads(message["Body"])
        assert (body["source"], body["detail-type"]) == ("payments.service", "PaymentFailed")
        assert body["detail"]["metadata"]["eventId"] == str(event_id)
        assert body["detail"]["data"]["reason"] == "PAYMENT_DECLINED"
        if relayed.raw:
            assert attribute(message, "eventType") == "PaymentFailed"
            assert attribute(message, "eventId") == str(event_id)
    assert messages_on(aws, "payments", 0) == []


def test_a_process_that_runs_only_orders_routes_by_every_manifest(
    aws: AwsContext, settings: Any, client: Client
) -> None:
    use(settings, "sqs")
    stock(client, "SQS-2", 5)
    place(client, ("SQS-2", 1))
    [order_placed] = messages_on(aws, "inventory", 1)
    only_orders = Topology.load(settings.MODULITH_MANIFESTS, ["orders"])
    transport = transport_kind("sqs").build(
        only_orders, modulith_settings(), runtime().dispatcher
    )  # as bootstrap does

    routes = transport.routes("OrderPlaced")
    outcomes = transport.send(
        "inventory",
        [Envelope.from_json(order_placed["Body"], max_bytes=modulith_settings().max_event_bytes)],
    )

    assert not only_orders.is_running("inventory")
    assert routes == ["inventory"]
    assert sorted(transport.routes("PaymentFailed")) == ["inventory", "orders"]
    assert transport.routes("StockReserved") == ["payments"]
    assert [outcome.ok for outcome in outcomes] == [True]
    [again] = messages_on(aws, "inventory", 1)
    assert json.loads(again["Body"]) == json.loads(order_placed["Body"])


def test_through_sns_an_event_no_module_handles_goes_on_its_topic_and_into_no_queue(
    aws: AwsContext, settings: Any
) -> None:
    """The payments topic has the queues of orders and inventory subscribed, for
    PaymentCaptured and PaymentFailed only: their filter policies keep PaymentRefunded out."""
    use(settings, "sns")

    with transaction.atomic(using="payments"):
        refunded = publish(
            PaymentRefunded(
                order_id=uuid4(), payment_id=uuid4(), amount=Decimal("1.00"), currency="EUR"
            )
        )

    assert statuses("payments", [refunded]) == {DeliveryStatus.DELIVERED: 1}
    for module in ("orders", "inventory", "payments"):
        assert messages_on(aws, module, 0) == [], module


def test_through_sns_an_entry_the_topic_refuses_is_dead_lettered_and_the_others_arrive(
    aws: AwsContext, fault_proxy: FaultProxy, settings: Any
) -> None:
    """SNS takes at most 256 KiB a message: the emulator refuses a larger one in its batch's
    answer (InvalidParameter, a sender fault), which no retry can mend. (Without claim checks:
    with them, a larger event's data goes to S3.)"""
    settings.MODULITH_CLAIM_CHECK = False
    use(settings, "sns")
    with transaction.atomic(using="inventory"):
        small = [publish(reserved()) for _ in range(2)]
        too_large = publish(reserved(size=300_000))
        small.append(publish(reserved()))

    assert statuses("inventory", small) == {DeliveryStatus.DELIVERED: 3}
    [refused] = deliveries("inventory", [too_large])
    assert (refused.status, refused.attempts) == (DeliveryStatus.DEAD, 1)
    assert refused.last_error.startswith("InvalidParameter: "), refused.last_error
    assert "Message too long" in refused.last_error
    # The small ones went together; the large one, over a batch's 256 KiB, alone.
    assert fault_proxy.forwarded[PUBLISH_BATCH] == 3
    assert sorted(event_ids_on(aws, "payments", 3)) == as_strings(small)


def test_each_entry_of_a_publish_batch_answer_is_matched_to_its_own_event(
    aws: AwsContext, settings: Any
) -> None:
    """The emulator answers for each of three entries: the middle one is too long (without
    claim checks, which would send its data to S3)."""
    settings.MODULITH_CLAIM_CHECK = False
    use(settings, "sns")
    first, middle, last = (stock_reserved_envelope() for _ in range(3))
    too_long = replace(middle, data={**middle.data, "padding": "x" * 300_000})

    outcomes = runtime().transport.send(f"{aws.prefix}-inventory", [first, too_long, last])

    assert [(o.ok, o.permanent) for o in outcomes] == [(True, False), (False, True), (True, False)]
    assert "Message too long" in outcomes[1].error
    assert sorted(event_ids_on(aws, "payments", 2)) == as_strings([first.event_id, last.event_id])


# Ten to a call -----------------------------------------------------------------------------


def test_twenty_five_events_committed_together_go_out_in_three_calls(
    aws: AwsContext, fault_proxy: FaultProxy, relayed: Relayed
) -> None:
    event_ids = reserve_stock(25)

    assert statuses("inventory", event_ids) == {DeliveryStatus.DELIVERED: 25}
    assert sorted(event_ids_on(aws, "payments", 25)) == as_strings(event_ids)
    assert fault_proxy.forwarded[relayed.call] == 3


# (The fault proxy fails entries of SendMessageBatch and PutEvents calls only.)
@pytest.mark.parametrize("relayed", ["sqs", "eventbridge"], indirect=True)
def test_a_sweep_sends_twenty_five_due_deliveries_in_three_calls(
    aws: AwsContext, fault_proxy: FaultProxy, relayed: Relayed
) -> None:
    call = relayed.call
    # Every entry of whatever is sent after the commit fails (a partial failure, no retries
    # inside botocore): the 25 deliveries are left due.
    fault_proxy.fail_batch_entries(call, every=1, times=25)
    event_ids = reserve_stock(25)
    fault_proxy.disarm()
    assert statuses("inventory", event_ids) == {DeliveryStatus.PENDING: 25}
    sent_before = fault_proxy.forwarded[call]

    report = sweep()

    assert report.delivered == 25
    assert fault_proxy.forwarded[call] - sent_before == 3
    assert sorted(event_ids_on(aws, "payments", 25)) == as_strings(event_ids)


@pytest.mark.parametrize("relayed", ["sqs", "eventbridge"], indirect=True)
def test_when_two_entries_of_a_batch_fail_only_those_two_are_sent_again(
    aws: AwsContext, fault_proxy: FaultProxy, relayed: Relayed
) -> None:
    call = relayed.call
    fault_proxy.fail_batch_entries(call.split(".")[1], indexes={1, 4})

    event_ids = reserve_stock(10)

    rows = deliveries("inventory", event_ids)
    assert [d.status for d in rows] == [
        DeliveryStatus.PENDING if index in {1, 4} else DeliveryStatus.DELIVERED
        for index in range(10)
    ]
    for failed in (rows[1], rows[4]):
        assert failed.attempts == 1
        assert "injected" in failed.last_error, failed.last_error
    assert all(d.attempts == 1 and not d.last_error for d in rows if d.status == "DELIVERED")
    sent_before = fault_proxy.forwarded[call]

    report = sweep()

    assert (report.delivered, report.retried, report.dead) == (2, 0, 0)
    assert fault_proxy.forwarded[call] - sent_before == 1
    assert statuses("inventory", event_ids) == {DeliveryStatus.DELIVERED: 10}
    retried = deliveries("inventory", [rows[1].event_id, rows[4].event_id])
    assert [d.attempts for d in retried] == [2, 2]
    received = event_ids_on(aws, "payments", 10)
    assert len(received) == 10
    assert sorted(received) == as_strings(event_ids)


def test_events_that_fit_one_at_a_time_but_not_ten_to_a_batch_still_arrive(
    aws: AwsContext, fault_proxy: FaultProxy, settings: Any
) -> None:
    """Each event fits in a message of its own, but five of them together are more than one
    SendMessageBatch call may carry (its entries' total, like one message, has a limit)."""
    use(settings, "sqs")
    fault_proxy.fail_batch_entries("SendMessageBatch", every=1, times=5)
    event_ids = reserve_stock(5, size=SQS_MAX_MESSAGE_BYTES // 4)
    fault_proxy.disarm()
    assert statuses("inventory", event_ids) == {DeliveryStatus.PENDING: 5}

    sweep()

    assert statuses("inventory", event_ids) == {DeliveryStatus.DELIVERED: 5}, [
        d.last_error[:200] for d in deliveries("inventory", event_ids)
    ]
    assert sorted(event_ids_on(aws, "payments", 5)) == as_strings(event_ids)


# AWS throttling, dropping connections, going away ------------------------------------------


@pytest.mark.parametrize(
    ("relayed", "fault", "error"),
    [
        ("sqs", "throttle", "ThrottlingException"),
        ("eventbridge", "drop_connections", "ConnectionClosedError"),
        ("sns", "throttle", "Throttling"),
    ],
    indirect=["relayed"],
)
def test_a_transport_that_cannot_be_reached_costs_the_events_no_attempt_and_loses_none(
    aws: AwsContext,
    fault_proxy: FaultProxy,
    settings: Any,
    relayed: Relayed,
    fault: str,
    error: str,
) -> None:
    call = relayed.call
    settings.MODULITH_ROUTE_PROBE_MAX_SECONDS = 0.5  # probes of the route within seconds
    # More failures in a row than botocore makes attempts, whatever its retry settings.
    getattr(fault_proxy, fault)(call, times=100)

    event_ids = reserve_stock(2)

    fault_proxy.disarm()
    assert fault_proxy.faulted[call] > 1  # botocore retried before the relay gave up
    assert fault_proxy.forwarded[call] == 0
    for delivery in deliveries("inventory", event_ids):
        assert (delivery.status, delivery.attempts) == (DeliveryStatus.PENDING, 0)
        assert delivery.last_error.startswith("route unavailable: "), delivery.last_error
        assert error in delivery.last_error, delivery.last_error
        # Due again when the route's breaker lets its first probe through.
        assert delivery.next_attempt_at - delivery.updated_at >= timedelta(seconds=0.2)

    sweep_until_delivered("inventory", event_ids)  # the probe comes when its backoff is over

    assert sorted(event_ids_on(aws, "payments", 2)) == as_strings(event_ids)
    assert [d.attempts for d in deliveries("inventory", event_ids)] == [1, 1]


def test_a_route_down_for_many_probes_never_dead_letters_an_event(
    aws: AwsContext, fault_proxy: FaultProxy, settings: Any
) -> None:
    use(settings, "sqs")
    settings.MODULITH_MAX_ATTEMPTS = 2
    fault_proxy.drop_connections(SEND_BATCH, times=1000)
    event_ids = reserve_stock(3)

    for _ in range(8):  # eight probes of the route, each failing as a whole
        make_due()
        sweep()
    probes = fault_proxy.faulted[SEND_BATCH]
    fault_proxy.disarm()

    assert probes >= 8
    assert statuses("inventory", event_ids) == {DeliveryStatus.PENDING: 3}
    assert {d.attempts for d in deliveries("inventory", event_ids)} == {0}
    make_due()  # the next probe
    assert sweep().delivered == 3
    assert statuses("inventory", event_ids) == {DeliveryStatus.DELIVERED: 3}
    assert sorted(event_ids_on(aws, "payments", 3)) == as_strings(event_ids)


@pytest.fixture
def own_emulator(
    private_emulator: Emulator, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> AwsContext:
    """This test's process relays through SQS to an emulator of its own, provisioned."""
    for variable in SHADOWING_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    env = aws_environment(private_emulator.endpoint)
    for variable, value in env.items():
        monkeypatch.setenv(variable, value)
    name = f"r{uuid4().hex[:8]}"
    settings.MODULITH_QUEUE_PREFIX = name
    settings.MODULITH_EVENT_BUS = name
    use(settings, "sqs")
    return AwsContext(emulator=private_emulator, prefix=name, bus=name, env=env)


def test_events_committed_while_the_emulator_is_down_each_arrive_once_after_it_returns(
    own_emulator: AwsContext,
) -> None:
    own_emulator.emulator.stop()

    event_ids = reserve_stock(30)  # the outbox is local: the commit succeeds

    for delivery in deliveries("inventory", event_ids):
        assert (delivery.status, delivery.attempts) == (DeliveryStatus.PENDING, 0)
        assert "Could not connect" in delivery.last_error, delivery.last_error
    own_emulator.emulator.restart()
    call_command("provision", stdout=StringIO())  # the restarted emulator holds nothing
    make_due()  # the route's next probe

    report = sweep()

    assert report.delivered == 30
    received = event_ids_on(own_emulator, "payments", 30)
    assert len(received) == 30
    assert sorted(received) == as_strings(event_ids)


def test_events_delivered_before_the_emulator_went_down_are_not_sent_again(
    own_emulator: AwsContext,
) -> None:
    delivered = reserve_stock(10)
    assert statuses("inventory", delivered) == {DeliveryStatus.DELIVERED: 10}
    delivered_at = {d.pk: d.delivered_at for d in deliveries("inventory", delivered)}
    own_emulator.emulator.stop()

    waiting = reserve_stock(20)

    assert statuses("inventory", waiting) == {DeliveryStatus.PENDING: 20}
    own_emulator.emulator.restart()  # the first ten are lost with the emulator's state
    call_command("provision", stdout=StringIO())
    make_due()  # the route's next probe

    report = sweep()

    assert report.delivered == 20
    received = event_ids_on(own_emulator, "payments", 20)
    assert len(received) == 20
    assert sorted(received) == as_strings(waiting)
    for delivery in deliveries("inventory", delivered):
        assert (delivery.status, delivery.attempts) == (DeliveryStatus.DELIVERED, 1)
        assert delivery.delivered_at == delivered_at[delivery.pk]


# Too large to send -------------------------------------------------------------------------


def test_an_event_over_the_size_limit_is_refused_in_the_publishers_transaction(
    aws: AwsContext, fault_proxy: FaultProxy, settings: Any
) -> None:
    use(settings, "sqs")
    settings.MODULITH_MAX_EVENT_BYTES = 2048

    def small_then_large() -> None:
        with transaction.atomic(using="inventory"):
            publish(reserved())
            publish(reserved(size=2048))

    with pytest.raises(EventTooLarge) as refused:
        small_then_large()

    message = str(refused.value)
    assert "StockReserved" in message
    assert "2048" in message
    assert "MODULITH_MAX_EVENT_BYTES" in message
    assert OutboxEvent.objects.using("inventory").count() == 0
    assert Delivery.objects.using("inventory").count() == 0
    assert fault_proxy.forwarded[SEND_BATCH] == 0
    assert messages_on(aws, "payments", 0) == []


def test_an_event_refused_for_its_size_leaves_the_transaction_usable(
    aws: AwsContext, settings: Any
) -> None:
    use(settings, "sqs")
    settings.MODULITH_MAX_EVENT_BYTES = 2048
    large = reserved(size=2048)
    small = reserved()

    with transaction.atomic(using="inventory"):
        with pytest.raises(EventTooLarge):
            publish(large)
        assert OutboxEvent.objects.using("inventory").count() == 0
        sent = publish(small)

    assert event_ids_on(aws, "payments", 1) == [str(sent)]
    assert [event.id for event in OutboxEvent.objects.using("inventory")] == [sent]
