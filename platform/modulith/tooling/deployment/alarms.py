"""The alarms of a module service, alike on ECS and Lambda: its dead-letter queue is not empty,
its oldest pending outbox event is too old, a route its relay delivers to is down. The last
two read the framework's own metrics, which reach CloudWatch as EMF lines
(`modulith.observability.emf`)."""

from typing import Any

from modulith.aws.names import ResourceNames
from modulith.modules import Module, Topology
from modulith.observability.emf import NAMESPACE

OUTBOX_AGE = "modulith_outbox_oldest_pending_age_seconds"
ROUTE_DOWN = "modulith_route_down"
AGE_PARAMETER = "OutboxAgeAlarmSeconds"


def routes_of(
    topology: Topology, module: Module, transport: str, names: ResourceNames
) -> list[str]:
    """The routes the module's relay delivers to, as its transport names them."""
    if not module.publishes:
        return []
    if transport == "eventbridge":
        return [names.bus]
    if transport == "sns":
        return [names.topic(module.name)]
    return sorted(
        {
            subscriber.name
            for event in module.publishes
            for subscriber in topology.subscribers_of(event.event_name)
        }
    )


def module_alarms(
    topology: Topology,
    module: Module,
    names: ResourceNames,
    *,
    transport: str,
    actions: Any,
) -> dict[str, Any]:
    """The module's alarms, each notifying `actions` (a list of topic ARNs) when it fires and
    when it clears."""
    alarms: dict[str, Any] = {}
    prefix = f"{names.prefix}-{module.name}"
    if module.handles:
        alarms["DeadLettersAlarm"] = _alarm(
            f"{prefix}-dead-letters",
            f"{module.name}'s dead-letter queue holds messages: inspect and replay them "
            "(manage.py deadletters)",
            actions,
            Namespace="AWS/SQS",
            MetricName="ApproximateNumberOfMessagesVisible",
            Dimensions=[{"Name": "QueueName", "Value": names.dead_letter_queue(module.name)}],
            Statistic="Maximum",
            Period=300,
            EvaluationPeriods=1,
            Threshold=0,
            ComparisonOperator="GreaterThanThreshold",
            TreatMissingData="notBreaching",
        )
    if module.publishes:
        alarms["OutboxAgeAlarm"] = _alarm(
            f"{prefix}-outbox-age",
            f"{module.name}'s oldest undelivered event has waited too long: is a relay "
            "running, and can it reach its routes?",
            actions,
            Namespace=NAMESPACE,
            MetricName=OUTBOX_AGE,
            Dimensions=[{"Name": "module", "Value": module.name}],
            Statistic="Maximum",
            Period=60,
            EvaluationPeriods=3,
            DatapointsToAlarm=3,
            Threshold={"Ref": AGE_PARAMETER},
            ComparisonOperator="GreaterThanThreshold",
            TreatMissingData="missing",
        )
    routes = routes_of(topology, module, transport, names)
    if routes:
        alarms["RouteDownAlarm"] = _alarm(
            f"{prefix}-route-down",
            f"A route {module.name}'s events take is down: they wait in its outbox",
            actions,
            Metrics=[
                *(
                    {
                        "Id": f"route{index}",
                        "MetricStat": {
                            "Metric": {
                                "Namespace": NAMESPACE,
                                "MetricName": ROUTE_DOWN,
                                "Dimensions": [
                                    {"Name": "transport", "Value": transport},
                                    {"Name": "route", "Value": route},
                                ],
                            },
                            "Period": 60,
                            "Stat": "Maximum",
                        },
                        "ReturnData": False,
                    }
                    for index, route in enumerate(routes)
                ),
                {
                    "Id": "down",
                    "Expression": f"MAX([{', '.join(f'route{i}' for i in range(len(routes)))}])",
                    "Label": "routes down",
                    "ReturnData": True,
                },
            ],
            EvaluationPeriods=3,
            DatapointsToAlarm=3,
            Threshold=1,
            ComparisonOperator="GreaterThanOrEqualToThreshold",
            TreatMissingData="notBreaching",
        )
    return alarms


def age_parameter() -> dict[str, Any]:
    return {
        AGE_PARAMETER: {
            "Type": "Number",
            "Default": 300,
            "MinValue": 60,
            "Description": "Alarm when the oldest undelivered event of the module is older "
            "than this many seconds, three minutes running",
        }
    }


def _alarm(name: str, description: str, actions: Any, **properties: Any) -> dict[str, Any]:
    return {
        "Type": "AWS::CloudWatch::Alarm",
        "Properties": {
            "AlarmName": name,
            "AlarmDescription": description,
            "AlarmActions": actions,
            "OKActions": actions,
            **properties,
        },
    }
