"""Per-key ordering over SQS and SNS, against the emulator: the queues of the modules that
handle an ordered event are FIFO (and, over SNS, the topics that feed them), provisioned so;
the relay sends each event in its key's message group, deduplicated by its event id; the
consumer and the Lambda function keep a group's order when a message of it fails, while the
other groups go on. EventBridge, which sets no group per event, is refused at start."""

import json
import subprocess
import sys
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from modulith.aws.cloudformation import template
from modulith.aws.consumer import queue_consumer
from modulith.aws.context import aws_context
from modulith.aws.names import ResourceNames
from modulith.aws.provision import Provisioner
from modulith.aws.resources import aws_topology
from modulith.database.store.models import InboxRecord
from modulith.modules.errors import ConfigurationError
from modulith.runtime import install, runtime
from modulith.runtime.bootstrap import build_runtime
from modulith.testing import wait_until
from tests.aws.consumers import ConsumerProcess
from tests.aws.emulator import AwsContext
from tests.aws.lambdas.event_source import EventSource, failures
from tests.executors import by_sweep
from tests.modulith.outbox.test_ordering_under_faults import applied_in_order
from tests.ordered_events import (
    APPLIED,
    FAILURES,
    PUBLISHER,
    SKIPS,
    WAITS,
    in_order,
    publish_changes,
    topology,
)

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

SKUS = ("A", "B", "C")
SEQUENCES = range(1, 5)


@pytest.fixture(params=["sqs", "sns"])
def ordered_over(request: pytest.FixtureRequest, aws: AwsContext, settings: Any) -> Iterator[str]:
    """The ordered topology relaying through SQS, then SNS, its resources provisioned; what
    is published waits for the test's sweep."""
    settings.MODULITH_TRANSPORT = request.param
    previous = runtime()
    APPLIED.clear()
    FAILURES.clear()
    install(build_runtime(topology=topology(), executor=by_sweep))
    context = aws_context(runtime())
    Provisioner(context).apply(context.resources(runtime().topology))
    yield request.param
    install(previous)
    APPLIED.clear()
    FAILURES.clear()


def all_changes() -> list[tuple[str, int]]:
    return [(sku, sequence) for sequence in SEQUENCES for sku in SKUS]


def test_the_queues_of_ordered_subscribers_and_the_topic_feeding_them_are_fifo(
    ordered_over: str, aws: AwsContext
) -> None:
    context = aws_context(runtime())
    for module in (WAITS, SKIPS):
        for url in (context.queues.url(module), context.queues.dead_letter_url(module)):
            assert url.endswith(".fifo")
            attributes = context.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])
            assert attributes["Attributes"]["FifoQueue"] == "true"
            assert attributes["Attributes"]["ContentBasedDeduplication"] == "false"
    if ordered_over == "sns":
        topic = context.topics.arn(context.names.topic(PUBLISHER))
        assert topic.endswith(f"{aws.prefix}-{PUBLISHER}.fifo")
        attributes = context.sns.get_topic_attributes(TopicArn=topic)["Attributes"]
        assert attributes["FifoTopic"] == "true"
        assert attributes["ContentBasedDeduplication"] == "false"
    assert Provisioner(context).apply(context.resources(runtime().topology)) == []  # idempotent


def test_each_event_goes_in_its_key_s_group_deduplicated_by_its_event_id(
    ordered_over: str,
) -> None:
    publish_changes(("A", 1), ("B", 1), together=True)
    runtime().relay.drain([PUBLISHER])

    source = EventSource(WAITS)
    messages = source.receive(expected=2)

    groups = {
        message["Attributes"]["MessageGroupId"]: message["Attributes"]["MessageDeduplicationId"]
        for message in messages
    }
    assert set(groups) == {"A", "B"}
    assert all(len(dedup) == 36 for dedup in groups.values())  # the event ids


def test_the_consumer_applies_every_key_in_order_through_failures_and_other_keys_go_on(
    ordered_over: str,
) -> None:
    FAILURES.once.update({(WAITS, "A", 1), (WAITS, "B", 3), (SKIPS, "C", 2)})
    publish_changes(*all_changes(), together=True)
    runtime().relay.drain([PUBLISHER])
    consumers = [queue_consumer(runtime(), runtime().topology.module(m), 1) for m in (WAITS, SKIPS)]
    expected = {sku: list(SEQUENCES) for sku in SKUS}

    def applied() -> bool:
        for consumer in consumers:
            consumer.poll()
        return all(len(APPLIED[m]) >= len(all_changes()) for m in (WAITS, SKIPS))

    wait_until(applied, awaiting="every change applied by both subscribers", timeout=60)

    assert in_order(APPLIED[WAITS]) == expected
    assert in_order(APPLIED[SKIPS]) == expected


def test_the_lambda_function_names_a_failed_record_and_the_later_ones_of_its_group_only(
    ordered_over: str,
) -> None:
    FAILURES.once.add((WAITS, "A", 1))
    publish_changes(("A", 1), ("B", 1), ("A", 2), ("B", 2), together=True)
    runtime().relay.drain([PUBLISHER])
    source = EventSource(WAITS)

    messages, answer = source.poll(expected=4)

    group_a = [m["MessageId"] for m in messages if m["Attributes"]["MessageGroupId"] == "A"]
    assert sorted(failures(answer)) == sorted(group_a)
    assert in_order(APPLIED[WAITS]) == {"B": [1, 2]}

    _, answer = source.poll(expected=2)

    assert failures(answer) == []
    assert in_order(APPLIED[WAITS]) == {"A": [1, 2], "B": [1, 2]}


def test_a_process_relaying_an_ordered_event_through_eventbridge_refuses_to_start(
    aws: AwsContext, settings: Any
) -> None:
    settings.MODULITH_TRANSPORT = "eventbridge"

    with pytest.raises(ConfigurationError) as refused:
        build_runtime(topology=topology())

    assert str(refused.value) == (
        "MODULITH_TRANSPORT=eventbridge cannot keep the order of PriceChanged (their types "
        "declare an ordering key): use sqs or sns, whose FIFO queues keep it"
    )


def test_the_cloudformation_template_makes_the_same_fifo_queues_topic_and_rule_target(
    tmp_path: Path,
) -> None:
    names = ResourceNames.of(topology(), prefix="shop", bus="shop")
    resources = aws_topology(topology(), names, max_receives=5, visibility_timeout=30, fan_out=True)
    stack = template(resources)
    body = stack["Resources"]

    queue = body["OrdersQueue"]["Properties"]
    assert (queue["QueueName"], queue["FifoQueue"], queue["ContentBasedDeduplication"]) == (
        "shop-orders.fifo",
        True,
        False,
    )
    assert body["OrdersDeadLetterQueue"]["Properties"]["QueueName"] == "shop-orders-dlq.fifo"
    assert body["InventoryTopic"]["Properties"] == {
        "TopicName": "shop-inventory.fifo",
        "FifoTopic": True,
        "ContentBasedDeduplication": False,
    }
    [target] = body["OrdersRule"]["Properties"]["Targets"]
    assert target["SqsParameters"] == {"MessageGroupId": "orders"}
    path = tmp_path / "ordered.json"
    path.write_text(json.dumps(stack))
    linted = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert linted.returncode == 0, linted.stdout + linted.stderr


@pytest.mark.slow
def test_over_fifo_queues_every_event_is_applied_once_through_failures_and_kills(
    tmp_path: Path, aws: AwsContext, settings: Any
) -> None:
    """Handlers failing a third of the events the first time, the consumer process SIGKILLed
    and restarted in the middle of each round: each subscriber's inbox holds every key's
    events, each once. (Their order after a kill is not the emulator's to show: when the
    messages of a group that a killed consumer held come back after their visibility timeout,
    moto hands out the group's last one first, where SQS hands out its first. Checked: three
    messages of a group received and not deleted come back A3 first. The order through
    failures is the test above's.)"""
    settings.MODULITH_TRANSPORT = "sqs"
    settings.MODULITH_VISIBILITY_TIMEOUT = 2  # what a killed consumer held comes back soon
    settings.MODULITH_MAX_RECEIVES = 20  # the kills cost receives: none may reach the DLQ
    previous = runtime()
    install(build_runtime(topology=topology(), executor=by_sweep))
    context = aws_context(runtime())
    Provisioner(context).apply(context.resources(runtime().topology))
    env = aws.env | {
        "DJANGO_SETTINGS_MODULE": "tests.ordered_settings",
        "MODULITH_TRANSPORT": "sqs",
        "ORDERED_EVENTS_FAILURE_RATE": "0.3",
        "MODULITH_RETRY_BASE_SECONDS": "0.1",
        "MODULITH_RETRY_MAX_SECONDS": "0.5",
    }
    skus = [f"SKU-{n}" for n in range(4)]
    rounds, per_round = 3, 3
    consumer = ConsumerProcess(tmp_path, WAITS, SKIPS, env=env).start()
    try:
        for round_number in range(rounds):
            first = round_number * per_round
            publish_changes(
                *[(sku, first + n) for n in range(per_round) for sku in skus], together=True
            )
            runtime().relay.drain([PUBLISHER])
            wait_until(
                partial(handled_beyond, first * len(skus)),
                awaiting="the consumer to handle some of the round",
                timeout=30,
            )
            consumer.kill()
            consumer = ConsumerProcess(tmp_path, WAITS, SKIPS, env=env).start()
        total = rounds * per_round * len(skus)
        wait_until(
            lambda: min(handled(WAITS), handled(SKIPS)),
            lambda count: count == total,
            awaiting="every event handled by both subscribers",
            timeout=90,
            details=lambda: consumer.output()[-3000:],
        )
    finally:
        consumer.stop()
        install(previous)

    expected = {sku: list(range(rounds * per_round)) for sku in skus}
    for subscriber in (WAITS, SKIPS):
        applied = applied_in_order(subscriber)
        assert {sku: sorted(sequences) for sku, sequences in applied.items()} == expected


def handled(subscriber: str) -> int:
    return InboxRecord.objects.using(subscriber).count()


def handled_beyond(count: int) -> bool:
    return handled(WAITS) + handled(SKIPS) > 2 * count
