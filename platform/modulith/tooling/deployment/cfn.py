"""What the CloudFormation templates share: logical names, ARNs built in the stack's account
and region, the values one stack exports and another imports, and the trust of an AWS
service."""

from typing import Any

Template = dict[str, Any]

SHARED_STACK = "SharedStack"  # the module stacks' parameter naming the shared stack
# The HSTS max-age a web stack sets, ECS or Lambda: short until HTTPS is known to work.
HSTS_SECONDS_PARAMETER = {
    "Type": "Number",
    "Default": 3600,
    "MinValue": 0,
    "Description": "Strict-Transport-Security max-age; raise it (31536000) once HTTPS is known "
    "to work",
}


def logical(name: str) -> str:
    """orders -> Orders, shop-orders -> ShopOrders, /api/orders -> ApiOrders: a logical id."""
    parts = name.replace("-", "_").replace("/", "_").split("_")
    return "".join(part.capitalize() for part in parts if part)


def arn(service: str, resource: str) -> dict[str, str]:
    """An ARN of this stack's partition, region and account."""
    return {
        "Fn::Sub": f"arn:${{AWS::Partition}}:{service}:${{AWS::Region}}:${{AWS::AccountId}}:"
        f"{resource}"
    }


def export(value: Any, name: str, description: str) -> dict[str, Any]:
    """An output other stacks import as `<this stack's name>-<name>`."""
    return {
        "Description": description,
        "Value": value,
        "Export": {"Name": {"Fn::Sub": f"${{AWS::StackName}}-{name}"}},
    }


def imported(name: str) -> dict[str, Any]:
    """What the shared stack (the SharedStack parameter) exports as `name`."""
    return {"Fn::ImportValue": {"Fn::Sub": f"${{{SHARED_STACK}}}-{name}"}}


def assumed_by(service: str, *, ecs: bool = False) -> dict[str, Any]:
    """The trust policy of a role `service` assumes; a task role trusts only this account's
    ECS (the confused-deputy conditions AWS documents for ecs-tasks)."""
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sts:AssumeRole",
    }
    if ecs:
        statement["Condition"] = {
            "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
            "ArnLike": {"aws:SourceArn": arn("ecs", "*")},
        }
    return {"Version": "2012-10-17", "Statement": [statement]}


def managed_policy(name: str) -> dict[str, str]:
    return {"Fn::Sub": f"arn:${{AWS::Partition}}:iam::aws:policy/{name}"}
