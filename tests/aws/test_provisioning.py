"""`provision` builds, against the AWS emulator, every resource the topology needs: a queue and
a dead-letter queue per subscribing module, the bus, one rule per subscribing module routing
to its queue each of its detail-types from the sources it believes it from (the publisher's,
and the foreign producers it declares), and the queue policies: the rule alone may deliver,
and nothing may reach a queue but over TLS. It is idempotent, repairs drift, and `topology`
describes the same resources, as JSON or as a CloudFormation template that cfn-lint
accepts."""

import json
import subprocess
import sys
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.utils.module_loading import import_string

from modulith.modules import Module
from tests.aws.emulator import AwsContext
from tests.aws.fault_proxy import FaultProxy

MAX_RECEIVES = 3
VISIBILITY_TIMEOUT = 45
SUBSCRIBERS = {"orders", "inventory", "payments"}
# The calls that change something; a run that has nothing to do makes none of them.
MUTATING_CALLS = {
    "AmazonSQS.CreateQueue",
    "AmazonSQS.SetQueueAttributes",
    "AmazonSQS.DeleteQueue",
    "AWSEvents.CreateEventBus",
    "AWSEvents.PutRule",
    "AWSEvents.PutTargets",
    "AWSEvents.RemoveTargets",
    "AWSEvents.DeleteRule",
}


@pytest.fixture
def resources(aws: AwsContext, settings: Any) -> AwsContext:
    """The test's names, with a redrive count and visibility timeout that are not defaults."""
    settings.MODULITH_MAX_RECEIVES = MAX_RECEIVES
    settings.MODULITH_VISIBILITY_TIMEOUT = VISIBILITY_TIMEOUT
    return aws


def provision(*args: str) -> list[str]:
    out = StringIO()
    call_command("provision", *args, stdout=out)
    return out.getvalue().splitlines()


def topology(format: str) -> Any:
    out = StringIO()
    call_command("topology", "--format", format, stdout=out)
    return json.loads(out.getvalue())


def handled_detail_types() -> dict[str, list[str]]:
    """Straight from the manifests: the detail-types each subscribing module handles."""
    manifests: list[Module] = [import_string(path) for path in django_settings.MODULITH_MANIFESTS]
    return {
        manifest.name: sorted(event_type.event_name for event_type in manifest.handles)
        for manifest in manifests
        if manifest.handles
    }


def believed_pairs() -> dict[str, set[tuple[str, str]]]:
    """Straight from the manifests: for each subscribing module, the (source, detail-type)
    pairs it believes: each handled event from its publisher, and from the sources the module
    accepts it from."""
    manifests: list[Module] = [import_string(path) for path in django_settings.MODULITH_MANIFESTS]
    publisher = {e.event_name: f"{m.name}.service" for m in manifests for e in m.publishes}
    return {
        manifest.name: {
            (source, event_type.event_name)
            for event_type in manifest.handles
            for source in [
                publisher[event_type.event_name],
                *manifest.foreign_sources(event_type.event_name),
            ]
        }
        for manifest in manifests
        if manifest.handles
    }


def pattern_pairs(pattern: dict[str, Any]) -> set[tuple[str, str]]:
    """The (source, detail-type) pairs an event pattern matches: every field of a pattern must
    match, and `$or` takes any of its patterns."""
    if "$or" in pattern:
        assert set(pattern) == {"$or"}, pattern
        return {pair for each in pattern["$or"] for pair in pattern_pairs(each)}
    assert set(pattern) == {"source", "detail-type"}, pattern
    return {(source, name) for source in pattern["source"] for name in pattern["detail-type"]}


def deny_insecure_transport(policy: dict[str, Any], resource: str, action: str) -> None:
    """The policy's last statement refuses every request to `resource` not made over TLS."""
    assert policy["Statement"][-1] == {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": action,
        "Resource": resource,
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def queue_url(sqs: Any, name: str) -> str:
    return str(sqs.get_queue_url(QueueName=name)["QueueUrl"])


def queue_attributes(sqs: Any, name: str) -> dict[str, str]:
    url = queue_url(sqs, name)
    return dict(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"])


def account_state(aws: AwsContext) -> dict[str, Any]:
    """Everything of this test's that the emulator holds, as read back with boto3."""
    sqs, events = aws.client("sqs"), aws.client("events")
    queues = {}
    for url in sqs.list_queues(QueueNamePrefix=aws.prefix).get("QueueUrls", []):
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        queues[url.rsplit("/", 1)[-1]] = {
            key: value
            for key, value in attributes.items()
            if key not in {"ApproximateNumberOfMessages", "LastModifiedTimestamp"}
        }
    rules = {}
    for rule in events.list_rules(EventBusName=aws.bus)["Rules"]:
        targets = events.list_targets_by_rule(Rule=rule["Name"], EventBusName=aws.bus)
        rules[rule["Name"]] = {
            "pattern": json.loads(rule["EventPattern"]),
            "state": rule["State"],
            "arn": rule["Arn"],
            "targets": [(t["Id"], t["Arn"]) for t in targets["Targets"]],
        }
    return {"queues": queues, "rules": rules}


def test_provision_creates_a_queue_and_a_dead_letter_queue_with_redrive_per_subscribing_module(
    resources: AwsContext,
) -> None:
    provision()

    sqs = resources.client("sqs")
    urls = sqs.list_queues(QueueNamePrefix=resources.prefix).get("QueueUrls", [])
    expected = {f"{resources.prefix}-{m}" for m in SUBSCRIBERS}
    expected |= {f"{resources.prefix}-{m}-dlq" for m in SUBSCRIBERS}
    assert {url.rsplit("/", 1)[-1] for url in urls} == expected
    assert set(handled_detail_types()) == SUBSCRIBERS
    for module in SUBSCRIBERS:
        queue = queue_attributes(sqs, f"{resources.prefix}-{module}")
        dead_letters = queue_attributes(sqs, f"{resources.prefix}-{module}-dlq")
        redrive = json.loads(queue["RedrivePolicy"])
        assert redrive["deadLetterTargetArn"] == dead_letters["QueueArn"], module
        assert int(redrive["maxReceiveCount"]) == MAX_RECEIVES, module
        assert queue["VisibilityTimeout"] == str(VISIBILITY_TIMEOUT), module
        assert "RedrivePolicy" not in dead_letters, module


def test_provision_creates_the_bus_and_a_rule_per_module_that_routes_its_detail_types_to_its_queue(
    resources: AwsContext,
) -> None:
    provision()

    sqs, events = resources.client("sqs"), resources.client("events")
    assert events.describe_event_bus(Name=resources.bus)["Name"] == resources.bus
    rules = {r["Name"]: r for r in events.list_rules(EventBusName=resources.bus)["Rules"]}
    assert set(rules) == {f"{resources.prefix}-{m}" for m in SUBSCRIBERS}
    believed = believed_pairs()
    assert believed["orders"] >= {
        ("payments.service", "PaymentCaptured"),
        ("billing.legacy", "PaymentCaptured"),
        ("payments.service", "PaymentFailed"),
    }
    assert ("billing.legacy", "PaymentFailed") not in believed["orders"]
    for module, detail_types in handled_detail_types().items():
        rule = rules[f"{resources.prefix}-{module}"]
        pattern = json.loads(rule["EventPattern"])
        assert pattern_pairs(pattern) == believed[module], module
        assert sorted({name for _, name in pattern_pairs(pattern)}) == detail_types, module
        assert rule["State"] == "ENABLED", module
        queue = queue_attributes(sqs, f"{resources.prefix}-{module}")
        targets = events.list_targets_by_rule(Rule=rule["Name"], EventBusName=resources.bus)
        assert [t["Arn"] for t in targets["Targets"]] == [queue["QueueArn"]], module


def test_each_module_queue_lets_its_own_rule_and_only_that_rule_send_to_it_over_tls(
    resources: AwsContext,
) -> None:
    provision()

    sqs, events = resources.client("sqs"), resources.client("events")
    for module in SUBSCRIBERS:
        queue = queue_attributes(sqs, f"{resources.prefix}-{module}")
        rule = events.describe_rule(Name=f"{resources.prefix}-{module}", EventBusName=resources.bus)
        policy = json.loads(queue["Policy"])
        statement, _ = policy["Statement"]
        assert statement["Effect"] == "Allow", module
        assert statement["Principal"] == {"Service": "events.amazonaws.com"}, module
        assert statement["Action"] == "sqs:SendMessage", module
        assert statement["Resource"] == queue["QueueArn"], module
        assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": rule["Arn"]}}, module
        deny_insecure_transport(policy, queue["QueueArn"], "sqs:*")


def test_each_dead_letter_queue_refuses_every_request_not_over_tls(resources: AwsContext) -> None:
    provision()

    sqs = resources.client("sqs")
    for module in SUBSCRIBERS:
        dead_letters = queue_attributes(sqs, f"{resources.prefix}-{module}-dlq")
        policy = json.loads(dead_letters["Policy"])
        assert len(policy["Statement"]) == 1, module
        deny_insecure_transport(policy, dead_letters["QueueArn"], "sqs:*")


def test_provisioning_twice_changes_nothing_the_second_time_and_says_so(
    resources: AwsContext, fault_proxy: FaultProxy, settings: Any
) -> None:
    settings.MODULITH_TRANSPORT = "sqs"  # the runtime's clients now go through the proxy
    first = provision()
    before = account_state(resources)
    calls_before = sum(fault_proxy.forwarded[call] for call in MUTATING_CALLS)

    second = provision()

    assert len(first) >= 6 * 2 + 1, first
    assert len(second) == 1, second
    assert second[0].startswith("nothing to change"), second
    assert account_state(resources) == before
    assert sum(fault_proxy.forwarded[call] for call in MUTATING_CALLS) == calls_before


def test_a_dry_run_on_an_empty_account_lists_every_creation_and_creates_nothing(
    resources: AwsContext,
) -> None:
    sqs, events = resources.client("sqs"), resources.client("events")

    planned = provision("--dry-run")

    assert sqs.list_queues(QueueNamePrefix=resources.prefix).get("QueueUrls", []) == []
    with pytest.raises(events.exceptions.ResourceNotFoundException):
        events.describe_event_bus(Name=resources.bus)
    assert all(line.startswith("would create ") for line in planned), planned
    prefix = resources.prefix
    for module in SUBSCRIBERS:
        assert f"would create queue {prefix}-{module}" in planned, planned
        assert f"would create dead-letter queue {prefix}-{module}-dlq" in planned, planned
        assert any(line.startswith(f"would create rule {prefix}-{module} ") for line in planned)
        assert f"would create rule target {prefix}-{module} ({prefix}-{module})" in planned
        assert f"would create queue policy {prefix}-{module} (allow {prefix}-{module})" in planned
        assert f"would create queue policy {prefix}-{module}-dlq (deny non-TLS)" in planned
    assert f"would create event bus {resources.bus}" in planned, planned
    # The plan is what a real run then does, line for line.
    assert planned == [f"would {line}" for line in provision()]


def test_a_redrive_count_changed_by_hand_is_reported_and_put_back(resources: AwsContext) -> None:
    provision()
    sqs = resources.client("sqs")
    name = f"{resources.prefix}-inventory"
    before = account_state(resources)
    redrive = json.loads(queue_attributes(sqs, name)["RedrivePolicy"])
    sqs.set_queue_attributes(
        QueueUrl=queue_url(sqs, name),
        Attributes={"RedrivePolicy": json.dumps(redrive | {"maxReceiveCount": 9})},
    )

    repaired = provision()

    # The emulator also drops a queue's Policy whenever SetQueueAttributes does not name it
    # (AWS keeps it), so here the policy is put back in the same run.
    assert repaired[0] == f"update queue {name} (RedrivePolicy)", repaired
    assert set(repaired[1:]) <= {f"create queue policy {name} (allow {name})"}, repaired
    assert account_state(resources) == before
    assert provision()[0].startswith("nothing to change")


def test_a_rule_pattern_changed_by_hand_is_reported_and_put_back_with_its_target_kept(
    resources: AwsContext,
) -> None:
    provision()
    events = resources.client("events")
    name = f"{resources.prefix}-payments"
    before = account_state(resources)
    # As provisioned before rules matched sources: any producer's StockReserved got through.
    events.put_rule(
        Name=name,
        EventBusName=resources.bus,
        EventPattern=json.dumps({"detail-type": ["StockReserved", "OrderPlaced"]}),
    )

    repaired = provision()

    assert repaired == [f"update rule {name} (event pattern)"]
    assert account_state(resources) == before
    rule = events.describe_rule(Name=name, EventBusName=resources.bus)
    assert json.loads(rule["EventPattern"]) == {
        "$or": [
            {"source": ["inventory.service"], "detail-type": ["StockReserved"]},
            {"source": ["orders.service"], "detail-type": ["OrderPaymentRefused"]},
        ]
    }


def test_a_missing_queue_policy_and_rule_target_are_reported_and_put_back(
    resources: AwsContext,
) -> None:
    provision()
    sqs, events = resources.client("sqs"), resources.client("events")
    name = f"{resources.prefix}-orders"
    before = account_state(resources)
    sqs.set_queue_attributes(QueueUrl=queue_url(sqs, name), Attributes={"Policy": ""})
    events.remove_targets(Rule=name, EventBusName=resources.bus, Ids=["module-queue"])

    repaired = provision()

    assert sorted(repaired) == [
        f"create queue policy {name} (allow {name})",
        f"create rule target {name} ({name})",
    ]
    assert account_state(resources) == before


def test_topology_as_json_lists_the_resources_provision_creates(resources: AwsContext) -> None:
    provision()
    state = account_state(resources)

    described = topology("json")

    assert described["bus"] == resources.bus
    queue_names = {q["name"] for q in described["queues"]}
    queue_names |= {q["dead_letter_name"] for q in described["queues"]}
    assert queue_names == set(state["queues"])
    assert {q["module"] for q in described["queues"]} == SUBSCRIBERS
    assert {q["max_receives"] for q in described["queues"]} == {MAX_RECEIVES}
    assert {q["visibility_timeout"] for q in described["queues"]} == {VISIBILITY_TIMEOUT}
    assert {r["name"] for r in described["rules"]} == set(state["rules"])
    for rule in described["rules"]:
        assert rule["eventPattern"] == state["rules"][rule["name"]]["pattern"]
        assert rule["queue_name"] == f"{resources.prefix}-{rule['module']}"
        queue_arn = state["queues"][rule["queue_name"]]["QueueArn"]
        assert [arn for _, arn in state["rules"][rule["name"]]["targets"]] == [queue_arn]


def test_topology_as_cloudformation_passes_cfn_lint(resources: AwsContext, tmp_path: Path) -> None:
    template = topology("cloudformation")
    path = tmp_path / "topology.json"
    path.write_text(json.dumps(template, indent=2))
    cfn_lint = Path(sys.executable).parent / "cfn-lint"

    result = subprocess.run(
        [str(cfn_lint), str(path)], capture_output=True, text=True, timeout=120, check=False
    )

    assert result.returncode == 0, result.stdout + result.stderr
    kinds = [resource["Type"] for resource in template["Resources"].values()]
    assert kinds.count("AWS::SQS::Queue") == 2 * len(SUBSCRIBERS)
    assert kinds.count("AWS::Events::Rule") == len(SUBSCRIBERS)
    assert kinds.count("AWS::SQS::QueuePolicy") == 2 * len(SUBSCRIBERS)  # and their DLQs'
    assert kinds.count("AWS::Events::EventBus") == 1
    orders_rule = template["Resources"]["OrdersRule"]["Properties"]["EventPattern"]
    assert pattern_pairs(orders_rule) == believed_pairs()["orders"]
