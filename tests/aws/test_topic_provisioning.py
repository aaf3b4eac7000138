"""With MODULITH_TRANSPORT=sns, `provision` also builds, against the AWS emulator, a topic per
publishing module and, for each subscribing module, a subscription of its queue to the topic
of every module whose events it handles: a filter policy on the event name lets through only
those events, and raw message delivery hands the queue the wire JSON itself. Each queue's
policy admits its rule and those topics, no others; each topic's admits publishers of its own
account only; both refuse requests not over TLS. It is idempotent, repairs drift, and
`topology` describes the same resources, as JSON or as a template that cfn-lint accepts."""

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.aws.emulator import AwsContext
from tests.aws.fault_proxy import FaultProxy
from tests.aws.test_provisioning import (
    SUBSCRIBERS,
    deny_insecure_transport,
    handled_detail_types,
    provision,
    queue_attributes,
    topology,
)

PUBLISHERS = {"orders", "inventory", "payments"}
# Who receives what from whom, read off the manifests: (subscriber, publisher) -> event names.
SUBSCRIPTIONS = {
    ("inventory", "orders"): ["OrderCancelled", "OrderConfirmed", "OrderPlaced"],
    ("inventory", "payments"): ["PaymentFailed"],
    ("orders", "inventory"): ["StockReservationFailed"],
    ("orders", "orders"): ["PaymentDeadlinePassed"],  # a saga timeout, to itself
    ("orders", "payments"): ["PaymentCaptured", "PaymentFailed"],
    ("payments", "inventory"): ["StockReserved"],
    ("payments", "orders"): ["OrderPaymentRefused"],
}
MUTATING_CALLS = {
    "sns.CreateTopic",
    "sns.DeleteTopic",
    "sns.Subscribe",
    "sns.Unsubscribe",
    "sns.SetSubscriptionAttributes",
    "sns.SetTopicAttributes",
    "AmazonSQS.SetQueueAttributes",
}


@pytest.fixture
def fan_out(aws: AwsContext, settings: Any) -> AwsContext:
    settings.MODULITH_TRANSPORT = "sns"
    return aws


def topics(aws: AwsContext) -> dict[str, str]:
    """The test's topics: name -> ARN."""
    arns = [t["TopicArn"] for t in aws.client("sns").list_topics()["Topics"]]
    return {arn.rsplit(":", 1)[-1]: arn for arn in arns if f":{aws.prefix}-" in arn}


def subscriptions(aws: AwsContext) -> dict[tuple[str, str], dict[str, Any]]:
    """(subscribing queue's module, topic's module) -> the subscription's attributes."""
    sns = aws.client("sns")
    found = {}
    for topic, arn in topics(aws).items():
        for subscription in sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]:
            attributes = sns.get_subscription_attributes(
                SubscriptionArn=subscription["SubscriptionArn"]
            )["Attributes"]
            queue = subscription["Endpoint"].rsplit(":", 1)[-1]
            key = (queue.removeprefix(f"{aws.prefix}-"), topic.removeprefix(f"{aws.prefix}-"))
            found[key] = attributes
    return found


def subscription_state(aws: AwsContext) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        key: {
            "protocol": attributes["Protocol"],
            "filter": json.loads(attributes["FilterPolicy"]),
            "raw": attributes["RawMessageDelivery"],
        }
        for key, attributes in subscriptions(aws).items()
    }


def subscription_arn(aws: AwsContext, subscriber: str, publisher: str) -> str:
    return str(subscriptions(aws)[(subscriber, publisher)]["SubscriptionArn"])


def test_the_subscriptions_expected_here_are_what_the_manifests_say() -> None:
    handled = handled_detail_types()
    for (subscriber, _publisher), event_names in SUBSCRIPTIONS.items():
        assert set(event_names) <= set(handled[subscriber])
    assert {name for names in SUBSCRIPTIONS.values() for name in names} == {
        name for names in handled.values() for name in names
    }


def test_provision_creates_a_topic_per_publishing_module(fan_out: AwsContext) -> None:
    provision()

    assert set(topics(fan_out)) == {f"{fan_out.prefix}-{m}" for m in PUBLISHERS}


def test_each_queue_subscribes_to_the_topics_it_needs_with_a_filter_policy_and_raw_delivery(
    fan_out: AwsContext,
) -> None:
    provision()

    state = subscription_state(fan_out)

    assert set(state) == set(SUBSCRIPTIONS)
    for key, event_names in SUBSCRIPTIONS.items():
        assert state[key] == {
            "protocol": "sqs",
            "filter": {"eventType": event_names},
            "raw": "true",
        }, key


def test_each_queue_admits_its_rule_and_only_the_topics_it_subscribes_to(
    fan_out: AwsContext,
) -> None:
    provision()

    sqs, events, arns = fan_out.client("sqs"), fan_out.client("events"), topics(fan_out)
    for module in SUBSCRIBERS:
        queue = queue_attributes(sqs, f"{fan_out.prefix}-{module}")
        rule = events.describe_rule(Name=f"{fan_out.prefix}-{module}", EventBusName=fan_out.bus)
        policy = json.loads(queue["Policy"])
        from_rule, from_topics, _ = policy["Statement"]
        deny_insecure_transport(policy, queue["QueueArn"], "sqs:*")
        assert from_rule["Principal"] == {"Service": "events.amazonaws.com"}, module
        assert from_rule["Condition"] == {"ArnEquals": {"aws:SourceArn": rule["Arn"]}}, module
        assert from_topics["Effect"] == "Allow", module
        assert from_topics["Principal"] == {"Service": "sns.amazonaws.com"}, module
        assert from_topics["Action"] == "sqs:SendMessage", module
        assert from_topics["Resource"] == queue["QueueArn"], module
        sources = from_topics["Condition"]["ArnEquals"]["aws:SourceArn"]
        expected = {arns[f"{fan_out.prefix}-{p}"] for s, p in SUBSCRIPTIONS if s == module}
        assert set([sources] if isinstance(sources, str) else sources) == expected, module


def test_each_topic_admits_publishers_of_its_own_account_only_and_over_tls_only(
    fan_out: AwsContext,
) -> None:
    provision()

    sns = fan_out.client("sns")
    account = fan_out.client("sts").get_caller_identity()["Account"]
    for name, arn in topics(fan_out).items():
        policy = json.loads(sns.get_topic_attributes(TopicArn=arn)["Attributes"]["Policy"])
        own_account, _ = policy["Statement"]
        assert own_account == {
            "Sid": "PublishFromTheAccountOnly",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "sns:Publish",
            "Resource": arn,
            "Condition": {"StringNotEquals": {"aws:PrincipalAccount": account}},
        }, name
        deny_insecure_transport(policy, arn, "sns:Publish")


def test_a_topic_policy_changed_by_hand_is_reported_and_put_back(fan_out: AwsContext) -> None:
    provision()
    sns, name = fan_out.client("sns"), f"{fan_out.prefix}-payments"
    arn = topics(fan_out)[name]
    wanted = sns.get_topic_attributes(TopicArn=arn)["Attributes"]["Policy"]
    anyone = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": "sns:Publish", "Resource": arn}
        ],
    }
    sns.set_topic_attributes(
        TopicArn=arn, AttributeName="Policy", AttributeValue=json.dumps(anyone)
    )

    repaired = provision()

    assert repaired == [f"update topic policy {name} (publish from this account only, over TLS)"]
    current = sns.get_topic_attributes(TopicArn=arn)["Attributes"]["Policy"]
    assert json.loads(current) == json.loads(wanted)


def test_provisioning_twice_changes_nothing_the_second_time_and_says_so(
    fan_out: AwsContext, fault_proxy: FaultProxy, settings: Any
) -> None:
    settings.MODULITH_TRANSPORT = "sns"  # the runtime, rebuilt, now goes through the proxy
    first = provision()
    before = subscription_state(fan_out), topics(fan_out)
    calls_before = sum(fault_proxy.forwarded[call] for call in MUTATING_CALLS)

    second = provision()

    assert len(first) >= 3 + len(SUBSCRIPTIONS), first
    assert second == [
        f"nothing to change: 3 queues with their dead-letter queues, bus {fan_out.bus} and "
        f"3 rules, 3 topics and {len(SUBSCRIPTIONS)} subscriptions, and the claim-check "
        "bucket are up to date"
    ]
    assert (subscription_state(fan_out), topics(fan_out)) == before
    assert sum(fault_proxy.forwarded[call] for call in MUTATING_CALLS) == calls_before


def test_a_dry_run_on_an_empty_account_lists_the_topics_and_subscriptions_and_creates_none(
    fan_out: AwsContext,
) -> None:
    planned = provision("--dry-run")

    prefix = fan_out.prefix
    assert topics(fan_out) == {}
    for module in PUBLISHERS:
        assert f"would create topic {prefix}-{module}" in planned, planned
        assert (
            f"would create topic policy {prefix}-{module} "
            "(publish from this account only, over TLS)"
        ) in planned, planned
    for (subscriber, publisher), event_names in SUBSCRIPTIONS.items():
        line = (
            f"would create subscription {prefix}-{subscriber} to {prefix}-{publisher} "
            f"({' '.join(event_names)})"
        )
        assert line in planned, planned
    assert (
        f"would create queue policy {prefix}-orders "
        f"(allow {prefix}-orders and topics {prefix}-orders, {prefix}-inventory, "
        f"{prefix}-payments)"
    ) in planned
    # The plan is what a real run then does, line for line.
    assert planned == [f"would {line}" for line in provision()]


def test_a_filter_policy_changed_by_hand_is_reported_and_put_back(fan_out: AwsContext) -> None:
    provision()
    before = subscription_state(fan_out)
    sns = fan_out.client("sns")
    sns.set_subscription_attributes(
        SubscriptionArn=subscription_arn(fan_out, "payments", "inventory"),
        AttributeName="FilterPolicy",
        AttributeValue=json.dumps({"eventType": ["StockReserved", "StockReleased"]}),
    )

    repaired = provision()

    prefix = fan_out.prefix
    assert repaired == [
        f"update subscription {prefix}-payments to {prefix}-inventory (FilterPolicy)"
    ]
    assert subscription_state(fan_out) == before


def test_raw_delivery_turned_off_by_hand_is_reported_and_put_back(fan_out: AwsContext) -> None:
    provision()
    before = subscription_state(fan_out)
    fan_out.client("sns").set_subscription_attributes(
        SubscriptionArn=subscription_arn(fan_out, "orders", "payments"),
        AttributeName="RawMessageDelivery",
        AttributeValue="false",
    )

    repaired = provision()

    prefix = fan_out.prefix
    assert repaired == [
        f"update subscription {prefix}-orders to {prefix}-payments (RawMessageDelivery)"
    ]
    assert subscription_state(fan_out) == before


def test_a_missing_subscription_is_reported_and_put_back(fan_out: AwsContext) -> None:
    provision()
    before = subscription_state(fan_out)
    fan_out.client("sns").unsubscribe(
        SubscriptionArn=subscription_arn(fan_out, "inventory", "orders")
    )
    assert ("inventory", "orders") not in subscriptions(fan_out)

    repaired = provision()

    prefix = fan_out.prefix
    assert repaired == [
        f"create subscription {prefix}-inventory to {prefix}-orders "
        "(OrderCancelled OrderConfirmed OrderPlaced)"
    ]
    assert subscription_state(fan_out) == before


def test_without_the_sns_transport_there_are_no_topics(aws: AwsContext, settings: Any) -> None:
    settings.MODULITH_TRANSPORT = "sqs"

    provision()

    assert topics(aws) == {}
    described = topology("json")
    assert (described["topics"], described["subscriptions"]) == ([], [])
    policy = json.loads(queue_attributes(aws.client("sqs"), f"{aws.prefix}-orders")["Policy"])
    [from_rule] = [s for s in policy["Statement"] if s["Effect"] == "Allow"]
    assert from_rule["Principal"] == {"Service": "events.amazonaws.com"}


def test_topology_as_json_lists_the_topics_and_subscriptions_provision_creates(
    fan_out: AwsContext,
) -> None:
    provision()

    described = topology("json")

    assert {t["name"] for t in described["topics"]} == set(topics(fan_out))
    assert {
        (s["module"], s["publisher"]): s["event_names"] for s in described["subscriptions"]
    } == (SUBSCRIPTIONS)
    state = subscription_state(fan_out)
    for subscription in described["subscriptions"]:
        key = (subscription["module"], subscription["publisher"])
        assert subscription["filterPolicy"] == state[key]["filter"], key
        assert subscription["queue_name"] == f"{fan_out.prefix}-{subscription['module']}"
        assert subscription["topic_name"] == f"{fan_out.prefix}-{subscription['publisher']}"


def test_topology_as_cloudformation_with_topics_passes_cfn_lint(
    fan_out: AwsContext, tmp_path: Path
) -> None:
    template = topology("cloudformation")
    path = tmp_path / "topology.json"
    path.write_text(json.dumps(template, indent=2))
    cfn_lint = Path(sys.executable).parent / "cfn-lint"

    result = subprocess.run(
        [str(cfn_lint), str(path)], capture_output=True, text=True, timeout=120, check=False
    )

    assert result.returncode == 0, result.stdout + result.stderr
    resources = template["Resources"]
    kinds = [resource["Type"] for resource in resources.values()]
    assert kinds.count("AWS::SNS::Topic") == len(PUBLISHERS)
    assert kinds.count("AWS::SNS::Subscription") == len(SUBSCRIPTIONS)
    assert kinds.count("AWS::SQS::QueuePolicy") == 2 * len(SUBSCRIBERS)  # and their DLQs'
    assert kinds.count("AWS::SNS::TopicPolicy") == len(PUBLISHERS)
    topic_policy = resources["PaymentsTopicPolicy"]["Properties"]
    assert topic_policy["Topics"] == [{"Ref": "PaymentsTopic"}]
    own_account, _ = topic_policy["PolicyDocument"]["Statement"]
    assert own_account["Condition"] == {
        "StringNotEquals": {"aws:PrincipalAccount": {"Ref": "AWS::AccountId"}}
    }
    for (subscriber, publisher), event_names in SUBSCRIPTIONS.items():
        name = f"{subscriber.capitalize()}From{publisher.capitalize()}Subscription"
        assert resources[name]["Properties"] == {
            "TopicArn": {"Ref": f"{publisher.capitalize()}Topic"},
            "Protocol": "sqs",
            "Endpoint": {"Fn::GetAtt": [f"{subscriber.capitalize()}Queue", "Arn"]},
            "RawMessageDelivery": True,
            "FilterPolicy": {"eventType": event_names},
        }
    policy = resources["PaymentsQueuePolicy"]["Properties"]["PolicyDocument"]
    [from_topics] = [s for s in policy["Statement"] if s["Sid"] == "AllowModuleTopics"]
    assert from_topics["Condition"] == {
        "ArnEquals": {"aws:SourceArn": [{"Ref": "OrdersTopic"}, {"Ref": "InventoryTopic"}]}
    }
