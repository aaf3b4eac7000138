"""Deploys a generated stack onto the emulator: through its CloudFormation for every resource
type moto's CloudFormation creates faithfully, and through each service's own API, with the
template's properties, for the others, in the order CloudFormation would (as its resource
handlers do). What goes which way is stated here, so the tests say what the emulator proved.

moto's CloudFormation (5.2) has no handler for these types, or one that drops properties the
tests check (AWS::ECS::Service: it ignores ServiceName, LoadBalancers, ServiceRegistries and
the network configuration), so they are created through their APIs. Its Lambda handler
drops TracingConfig and PackageType, its IAM handler a role's ManagedPolicyArns, and it
stores an inline policy as Python's repr of the document: the file tests check those.
"""

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from modulith.testing import wait_until

# Created through the service's own API, in this order, after the stack.
THROUGH_THEIR_API = (
    "AWS::ApiGatewayV2::Api",
    "AWS::ApiGatewayV2::Stage",
    "AWS::ApiGatewayV2::Integration",
    "AWS::ApiGatewayV2::Route",
    "AWS::ServiceDiscovery::PrivateDnsNamespace",
    "AWS::ServiceDiscovery::Service",
    "AWS::SQS::QueuePolicy",
    "AWS::SNS::Subscription",
    "AWS::ECS::Service",
    "AWS::ApplicationAutoScaling::ScalableTarget",
    "AWS::ApplicationAutoScaling::ScalingPolicy",
    "AWS::CloudWatch::Alarm",
)
# Created before the stack: the stack's resources or outputs refer to them.
BEFORE_THE_STACK = (
    "AWS::ApiGatewayV2::Api",
    "AWS::ServiceDiscovery::PrivateDnsNamespace",
    "AWS::ServiceDiscovery::Service",
)


@dataclass
class Deployed:
    """A stack's resources, by logical id: their physical id and what GetAtt reads of them."""

    name: str
    physical: dict[str, str] = field(default_factory=dict)
    attributes: dict[tuple[str, str], str] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)


class Deployer:
    def __init__(self, client: Callable[[str], Any], account: str, region: str) -> None:
        self.client = client
        self.account = account
        self.region = region

    def deploy(
        self, name: str, template: dict[str, Any], parameters: Mapping[str, str]
    ) -> Deployed:
        deployed = Deployed(name)
        parameters = self._with_defaults(template, parameters)
        resolver = Resolver(self, template, parameters, deployed)
        resources = template["Resources"]
        for kind in BEFORE_THE_STACK:
            for logical, resource in resources.items():
                if resource["Type"] == kind and resolver.condition_holds(resource):
                    self._create(kind, logical, resolver.resolve(resource["Properties"]), deployed)
        stack_part = {
            key: value for key, value in template.items() if key not in {"Resources", "Outputs"}
        }
        stack_part["Resources"] = {
            logical: resolver.substitute(resource)
            for logical, resource in resources.items()
            if resource["Type"] not in THROUGH_THEIR_API
        }
        stack_part["Outputs"] = {
            key: resolver.substitute(output)
            for key, output in template.get("Outputs", {}).items()
            if not _refers_to(output, _api_made(resources) - set(deployed.physical))
        }
        stack_part["Resources"] = {
            logical: {
                **resource,
                "DependsOn": _kept_dependencies(resource, stack_part["Resources"]),
            }
            if "DependsOn" in resource
            else resource
            for logical, resource in stack_part["Resources"].items()
        }
        cloudformation = self.client("cloudformation")
        cloudformation.create_stack(
            StackName=name,
            TemplateBody=json.dumps(stack_part),
            Parameters=[
                {"ParameterKey": key, "ParameterValue": value}
                for key, value in parameters.items()
                if key in template.get("Parameters", {})
            ],
            Capabilities=["CAPABILITY_IAM"],
        )
        _wait_for(cloudformation, name)
        for item in cloudformation.describe_stack_resources(StackName=name)["StackResources"]:
            if "PhysicalResourceId" in item:
                deployed.physical[item["LogicalResourceId"]] = item["PhysicalResourceId"]
        [stack] = cloudformation.describe_stacks(StackName=name)["Stacks"]
        deployed.outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        for kind in THROUGH_THEIR_API:
            if kind in BEFORE_THE_STACK:
                continue
            for logical, resource in resources.items():
                if resource["Type"] == kind and resolver.condition_holds(resource):
                    self._create(kind, logical, resolver.resolve(resource["Properties"]), deployed)
        return deployed

    def _with_defaults(
        self, template: dict[str, Any], parameters: Mapping[str, str]
    ) -> dict[str, str]:
        values = {
            key: str(spec["Default"])
            for key, spec in template.get("Parameters", {}).items()
            if "Default" in spec
        }
        return values | dict(parameters)

    def _create(
        self, kind: str, logical: str, properties: dict[str, Any], deployed: Deployed
    ) -> None:
        CREATORS[kind](self, logical, properties, deployed)

    def exports(self) -> dict[str, str]:
        pages = self.client("cloudformation").list_exports()
        return {e["Name"]: e["Value"] for e in pages["Exports"]}


class Resolver:
    """CloudFormation's intrinsic functions, as far as the generated templates use them."""

    def __init__(
        self,
        deployer: Deployer,
        template: dict[str, Any],
        parameters: Mapping[str, str],
        deployed: Deployed,
    ) -> None:
        self.deployer = deployer
        self.template = template
        self.parameters = parameters
        self.deployed = deployed

    def pseudo(self) -> dict[str, str]:
        return {
            "AWS::AccountId": self.deployer.account,
            "AWS::Region": self.deployer.region,
            "AWS::Partition": "aws",
            "AWS::StackName": self.deployed.name,
        }

    def condition_holds(self, resource: dict[str, Any]) -> bool:
        name = resource.get("Condition")
        return name is None or bool(self.resolve(self.template["Conditions"][name]))

    def substitute(self, value: Any) -> Any:
        """Only the references to what the APIs made, replaced by their values: the rest is
        left to moto's CloudFormation. (And a Ref to a bus, which moto resolves to its object
        rather than its name: the name, as CloudFormation's Ref gives it.)"""
        made = set(self.deployed.physical)
        if isinstance(value, dict):
            bus = self.template["Resources"].get(str(value.get("Ref")), {})
            if len(value) == 1 and bus.get("Type") == "AWS::Events::EventBus":
                return bus["Properties"]["Name"]
            if (
                _refers_to(value, made)
                and len(value) == 1
                and next(iter(value)) in {"Ref", "Fn::GetAtt"}
            ):
                return self.resolve(value)
            return {key: self.substitute(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.substitute(item) for item in value]
        return value

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [item for item in (self.resolve(v) for v in value) if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            [(key, argument)] = value.items()
            function = FUNCTIONS.get(key)
            if function:
                return function(self, argument)
        return {
            key: resolved
            for key, resolved in ((k, self.resolve(v)) for k, v in value.items())
            if resolved is not NO_VALUE
        }

    def ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.pseudo():
            return self.pseudo()[name]
        if name in self.parameters:
            spec = self.template["Parameters"][name]
            value = self.parameters[name]
            if spec["Type"].startswith("List<"):
                return value.split(",")
            return int(value) if spec["Type"] == "Number" else value
        return self.deployed.physical[name]

    def get_att(self, argument: list[str]) -> str:
        logical, attribute = argument
        if (logical, attribute) in self.deployed.attributes:
            return self.deployed.attributes[(logical, attribute)]
        kind = self.template["Resources"][logical]["Type"]
        return ATTRIBUTES[(kind, attribute)](self, self.deployed.physical[logical])

    def sub(self, argument: Any) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else argument
        values = {**{k: self.resolve(v) for k, v in variables.items()}}

        def value_of(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in values:
                return str(values[name])
            if "." in name:
                return str(self.get_att(name.split(".", 1)))
            return str(self.ref(name))

        return re.sub(r"\$\{([\w:.]+)\}", value_of, text)


class _NoValue:
    pass


NO_VALUE = _NoValue()


def _if(resolver: Resolver, argument: list[Any]) -> Any:
    condition, then, otherwise = argument
    holds = resolver.resolve(resolver.template["Conditions"][condition])
    return resolver.resolve(then if holds else otherwise)


FUNCTIONS: dict[str, Callable[[Resolver, Any], Any]] = {
    "Ref": lambda r, a: r.ref(a),
    "Fn::GetAtt": lambda r, a: r.get_att(a),
    "Fn::Sub": lambda r, a: r.sub(a),
    "Fn::Join": lambda r, a: a[0].join(str(item) for item in r.resolve(a[1])),
    "Fn::Split": lambda r, a: str(r.resolve(a[1])).split(a[0]),
    "Fn::ImportValue": lambda r, a: r.deployer.exports()[r.resolve(a)],
    "Fn::If": _if,
    "Fn::Equals": lambda r, a: r.resolve(a[0]) == r.resolve(a[1]),
    "Fn::Not": lambda r, a: not r.resolve(a[0]),
}


def _queue_arn(resolver: Resolver, url: str) -> str:
    attributes = resolver.deployer.client("sqs").get_queue_attributes(
        QueueUrl=url, AttributeNames=["QueueArn"]
    )
    return str(attributes["Attributes"]["QueueArn"])


def _rule_arn(resolver: Resolver, name: str) -> str:
    bus_rules = resolver.deployer.client("events")
    for bus in bus_rules.list_event_buses()["EventBuses"]:
        for rule in bus_rules.list_rules(EventBusName=bus["Name"])["Rules"]:
            if rule["Name"] == name or rule["Arn"] == name:
                return str(rule["Arn"])
    raise LookupError(name)


def _function_arn(resolver: Resolver, name: str) -> str:
    return str(
        resolver.deployer.client("lambda").get_function(FunctionName=name)["Configuration"][
            "FunctionArn"
        ]
    )


ATTRIBUTES: dict[tuple[str, str], Callable[[Resolver, str], str]] = {
    ("AWS::Lambda::Function", "Arn"): _function_arn,
    ("AWS::SQS::Queue", "Arn"): _queue_arn,
    ("AWS::Events::Rule", "Arn"): _rule_arn,
    ("AWS::ECS::Service", "Name"): lambda r, physical: physical.rsplit("/", 1)[-1],
    ("AWS::Logs::LogGroup", "Arn"): lambda r, physical: (
        f"arn:aws:logs:{r.deployer.region}:{r.deployer.account}:log-group:{physical}:*"
    ),
}


def _namespace(
    deployer: Deployer, logical: str, properties: dict[str, Any], deployed: Deployed
) -> None:
    discovery = deployer.client("servicediscovery")
    operation = discovery.create_private_dns_namespace(
        Name=properties["Name"],
        Vpc=properties["Vpc"],
        Description=properties.get("Description", ""),
    )["OperationId"]
    namespace_id = discovery.get_operation(OperationId=operation)["Operation"]["Targets"][
        "NAMESPACE"
    ]
    deployed.physical[logical] = namespace_id
    deployed.attributes[(logical, "Id")] = namespace_id


def _discovery_service(
    deployer: Deployer, logical: str, properties: dict[str, Any], deployed: Deployed
) -> None:
    created = deployer.client("servicediscovery").create_service(**properties)["Service"]
    deployed.physical[logical] = created["Id"]
    deployed.attributes[(logical, "Arn")] = created["Arn"]
    deployed.attributes[(logical, "Id")] = created["Id"]


def _queue_policy(
    deployer: Deployer, logical: str, properties: dict[str, Any], deployed: Deployed
) -> None:
    for url in properties["Queues"]:
        deployer.client("sqs").set_queue_attributes(
            QueueUrl=url, Attributes={"Policy": json.dumps(properties["PolicyDocument"])}
        )


def _subscription(
    deployer: Deployer, logical: str, properties: dict[str, Any], deployed: Deployed
) -> None:
    attributes = {
        "RawMessageDelivery": str(properties.get("RawMessageDelivery", False)).lower(),
        "FilterPolicy": json.dumps(properties["FilterPolicy"]),
    }
    arn = deployer.client("sns").subscribe(
        TopicArn=properties["TopicArn"],
        Protocol=properties["Protocol"],
        Endpoint=properties["Endpoint"],
        Attributes=attributes,
        ReturnSubscriptionArn=True,
    )["SubscriptionArn"]
    deployed.physical[logical] = arn


def _camel(properties: Any) -> Any:
    if isinstance(properties, dict):
        return {key[0].lower() + key[1:]: _camel(value) for key, value in properties.items()}
    if isinstance(properties, list):
        return [_camel(item) for item in properties]
    return properties


def _ecs_service(
    deployer: Deployer, logical: str, properties: dict[str, Any], deployed: Deployed
) -> None:
    arguments = _camel(properties)
    arguments["cluster"] = properties["Cluster"]
    created = deployer.client("ecs").create_service(**arguments)["service"]
    deployed.physical[logical] = created["serviceArn"]
    deployed.attributes[(logical, "Name")] = created["serviceName"]


def _scalable_target(
    deployer: Deployer, logical: str, properties: dict[str, Any], deployed: Deployed
) -> None:
    properties = {
        **properties,
        "MinCapacity": int(properties["MinCapacity"]),
        "MaxCapacity": int(properties["MaxCapacity"]),
    }
    deployer.client("application-autoscaling").register_scalable_target(**properties)
    deployed.physical[logical] = (
        f"{properties['ResourceId']}|{properties['ScalableDimension']}|{properties['ServiceNamespace']}"
    )


def _scaling_policy(
    deployer: Deployer, logical: str, properties: dict[str, Any], deployed: Deployed
) -> None:
    resource_id, dimension, namespace = properties.pop("ScalingTargetId").split("|")
    configuration = properties["TargetTrackingScalingPolicyConfiguration"]
    configuration["TargetValue"] = float(configuration["TargetValue"])
    created = deployer.client("application-autoscaling").put_scaling_policy(
        ResourceId=resource_id,
        ScalableDimension=dimension,
        ServiceNamespace=namespace,
        **properties,
    )
    deployed.physical[logical] = created["PolicyARN"]


def _alarm(
    deployer: Deployer, logical: str, properties: dict[str, Any], deployed: Deployed
) -> None:
    properties = {**properties, "Threshold": float(properties["Threshold"])}
    deployer.client("cloudwatch").put_metric_alarm(**properties)
    deployed.physical[logical] = properties["AlarmName"]


def _http_api(
    deployer: Deployer, logical: str, properties: dict[str, Any], deployed: Deployed
) -> None:
    created = deployer.client("apigatewayv2").create_api(**properties)
    deployed.physical[logical] = created["ApiId"]
    deployed.attributes[(logical, "ApiEndpoint")] = created["ApiEndpoint"]


def _api_part(
    operation: str, key: str
) -> Callable[[Deployer, str, dict[str, Any], Deployed], None]:
    def create(
        deployer: Deployer, logical: str, properties: dict[str, Any], deployed: Deployed
    ) -> None:
        created = getattr(deployer.client("apigatewayv2"), operation)(**properties)
        deployed.physical[logical] = created[key]

    return create


CREATORS: dict[str, Callable[[Deployer, str, dict[str, Any], Deployed], None]] = {
    "AWS::ApiGatewayV2::Api": _http_api,
    "AWS::ApiGatewayV2::Stage": _api_part("create_stage", "StageName"),
    "AWS::ApiGatewayV2::Integration": _api_part("create_integration", "IntegrationId"),
    "AWS::ApiGatewayV2::Route": _api_part("create_route", "RouteId"),
    "AWS::ServiceDiscovery::PrivateDnsNamespace": _namespace,
    "AWS::ServiceDiscovery::Service": _discovery_service,
    "AWS::SQS::QueuePolicy": _queue_policy,
    "AWS::SNS::Subscription": _subscription,
    "AWS::ECS::Service": _ecs_service,
    "AWS::ApplicationAutoScaling::ScalableTarget": _scalable_target,
    "AWS::ApplicationAutoScaling::ScalingPolicy": _scaling_policy,
    "AWS::CloudWatch::Alarm": _alarm,
}


def _api_made(resources: dict[str, Any]) -> set[str]:
    return {logical for logical, r in resources.items() if r["Type"] in THROUGH_THEIR_API}


def _refers_to(value: Any, logicals: set[str]) -> bool:
    if isinstance(value, dict):
        if value.get("Ref") in logicals:
            return True
        get_att = value.get("Fn::GetAtt")
        if isinstance(get_att, list) and get_att[0] in logicals:
            return True
        return any(_refers_to(item, logicals) for item in value.values())
    if isinstance(value, list):
        return any(_refers_to(item, logicals) for item in value)
    return False


def _kept_dependencies(resource: dict[str, Any], kept: dict[str, Any]) -> list[str]:
    depends = resource["DependsOn"]
    return [name for name in ([depends] if isinstance(depends, str) else depends) if name in kept]


def _wait_for(cloudformation: Any, name: str, timeout: float = 60) -> None:
    def status() -> str:
        [stack] = cloudformation.describe_stacks(StackName=name)["Stacks"]
        status = str(stack["StackStatus"])
        if status.endswith("FAILED") or "ROLLBACK" in status:
            events = cloudformation.describe_stack_events(StackName=name)["StackEvents"]
            reasons = [
                e.get("ResourceStatusReason") for e in events if e.get("ResourceStatusReason")
            ]
            raise AssertionError(f"{name}: {status}: {reasons[:5]}")
        return status

    wait_until(
        status,
        lambda seen: seen == "CREATE_COMPLETE",
        awaiting=f"stack {name} to be created",
        timeout=timeout,
        interval=0.2,
    )
