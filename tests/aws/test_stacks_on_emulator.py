"""The generated ECS and Lambda stacks, deployed onto the emulator (moto in server mode) and
checked through the AWS APIs: each module service in Cloud Map, behind its listener rule,
scaling on the right metric, alarmed on the right queue and metrics, and allowed by its roles
what it needs and nothing more.

moto's CloudFormation creates the clusters, task definitions, roles, load balancer, listeners,
rules, target groups, security groups, log groups, queues, bus, rules, topics, functions,
event source mappings and schedules; the types it has no handler for (Cloud Map, Application
Auto Scaling, CloudWatch alarms, queue policies, SNS subscriptions, API Gateway v2), and the
ECS services (whose handler drops their load balancers, registries and names), are created
through their own APIs with the template's properties (tests/aws/stacks.py)."""

import ast
import fnmatch
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from modulith.conf import modulith_settings
from modulith.modules import Module, Topology
from tests.aws.emulator import Emulator, aws_environment
from tests.aws.stacks import Deployed, Deployer

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
TOPOLOGY: Topology = modulith_settings().topology
ACCOUNT = "123456789012"
REGION = "us-east-1"
SECRETS = (
    "DjangoDatabaseUrlSecretArn",
    "DjangoSecretKeySecretArn",
    "ApiKeysSecretArn",
    "InternalSecretArn",
)


class Account:
    """The emulator's account, as boto3 clients see it."""

    def __init__(self, emulator: Emulator) -> None:
        env = aws_environment(emulator.endpoint)
        self.session = boto3.session.Session(
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            region_name=REGION,
        )
        self.endpoint = emulator.endpoint

    def client(self, service: str) -> Any:
        return self.session.client(service, endpoint_url=self.endpoint)  # type: ignore[call-overload]

    def network(self) -> dict[str, Any]:
        ec2 = self.client("ec2")
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        subnets = [
            ec2.create_subnet(
                VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"{REGION}{'ab'[i % 2]}"
            )["Subnet"]["SubnetId"]
            for i in range(4)
        ]
        group = ec2.create_security_group(GroupName="app", Description="app", VpcId=vpc)
        return {
            "vpc": vpc,
            "public": subnets[:2],
            "private": subnets[2:],
            "group": group["GroupId"],
        }

    def secrets(self, module: Module) -> dict[str, str]:
        manager = self.client("secretsmanager")
        names = (*SECRETS, f"{module.name.capitalize()}DatabaseUrlSecretArn")
        return {
            name: manager.create_secret(Name=f"{module.name}-{name}", SecretString="x")["ARN"]
            for name in names
        }


def stack(shape: str, name: str) -> dict[str, Any]:
    return dict(json.loads((DEPLOY / shape / f"{name}.json").read_text()))


def used(template: dict[str, Any], values: dict[str, str]) -> dict[str, str]:
    return {key: value for key, value in values.items() if key in template["Parameters"]}


@pytest.fixture(scope="module")
def ecs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Account, dict[str, Deployed]]]:
    emulator = Emulator(log_dir=tmp_path_factory.mktemp("moto-ecs"))
    emulator.start()
    try:
        account = Account(emulator)
        network = account.network()
        certificate = account.client("acm").request_certificate(DomainName="shop.example.com")
        deployer = Deployer(account.client, ACCOUNT, REGION)
        deployed = {
            "shared": deployer.deploy(
                "modulith-shared",
                stack("ecs", "shared"),
                {
                    "VpcId": network["vpc"],
                    "PublicSubnetIds": ",".join(network["public"]),
                    "PrivateSubnetIds": ",".join(network["private"]),
                    "CertificateArn": certificate["CertificateArn"],
                },
            )
        }
        for module in TOPOLOGY.modules:
            template = stack("ecs", module.name)
            deployed[module.name] = deployer.deploy(
                f"modulith-{module.name}",
                template,
                used(
                    template,
                    {
                        "ImageUri": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/shop:1",
                        "PublicHost": "shop.example.com",
                        **account.secrets(module),
                    },
                ),
            )
        yield account, deployed
    finally:
        emulator.stop()


@pytest.fixture(scope="module")
def on_lambda(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Account, dict[str, Deployed]]]:
    emulator = Emulator(log_dir=tmp_path_factory.mktemp("moto-lambda"))
    emulator.start()
    try:
        account = Account(emulator)
        network = account.network()
        deployer = Deployer(account.client, ACCOUNT, REGION)
        # The queues the functions read, and the alert topic: the ECS shared stack's.
        shared = stack("ecs", "shared")
        messaging = {
            key: resource
            for key, resource in shared["Resources"].items()
            if resource["Type"].startswith(("AWS::SQS::", "AWS::Events::", "AWS::SNS::"))
        }
        topology = deployer.deploy(
            "modulith-messaging",
            {"AWSTemplateFormatVersion": "2010-09-09", "Resources": messaging, "Outputs": {}},
            {},
        )
        alerts = account.client("sns").create_topic(Name="modulith-alerts")["TopicArn"]
        deployed = {"messaging": topology}
        # Providers first: a module that uses a port is given its provider's HTTP API, whose
        # internal route its functions may invoke.
        for module in sorted(TOPOLOGY.modules, key=lambda m: len(m.uses)):
            template = stack("lambda", module.name)
            deployed[module.name] = deployer.deploy(
                f"modulith-{module.name}-lambda",
                template,
                used(
                    template,
                    {
                        "ImageUri": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/shop:1",
                        "PublicHost": "shop.example.com",
                        "SubnetIds": ",".join(network["private"]),
                        "SecurityGroupIds": network["group"],
                        "AlertTopicArn": alerts,
                        **{
                            f"{provider.capitalize()}ServiceUrl": f"http://{provider}.internal:8000"
                            for provider in ("orders", "inventory", "payments")
                        },
                        **account.secrets(module),
                        **{
                            f"{name.capitalize()}HttpApiId": deployed[name].physical["HttpApi"]
                            for name in ("orders", "inventory", "payments")
                            if name in deployed
                        },
                    },
                ),
            )
        yield account, deployed
    finally:
        emulator.stop()


MODULES = pytest.mark.parametrize("module", TOPOLOGY.modules, ids=lambda m: m.name)


@MODULES
def test_each_web_service_is_registered_in_cloud_map_as_module_internal(
    ecs: tuple[Account, dict[str, Deployed]], module: Module
) -> None:
    account, _ = ecs
    [service] = account.client("ecs").describe_services(
        cluster="modulith", services=[f"modulith-{module.name}-web"]
    )["services"]
    discovery = account.client("servicediscovery")

    [registry] = service["serviceRegistries"]
    [registered] = [
        s for s in discovery.list_services()["Services"] if s["Arn"] == registry["registryArn"]
    ]
    found = discovery.get_service(Id=registered["Id"])["Service"]
    namespace = discovery.get_namespace(Id=found["NamespaceId"])["Namespace"]
    assert f"{found['Name']}.{namespace['Name']}" == f"{module.name}.internal"
    assert namespace["Type"] == "DNS_PRIVATE"
    assert service["launchType"] == "FARGATE"


@MODULES
def test_the_listener_routes_the_modules_api_to_its_web_service(
    ecs: tuple[Account, dict[str, Deployed]], module: Module
) -> None:
    account, deployed = ecs
    elbv2 = account.client("elbv2")
    listener = deployed["shared"].outputs["HttpsListenerArn"]
    [service] = account.client("ecs").describe_services(
        cluster="modulith", services=[f"modulith-{module.name}-web"]
    )["services"]
    [balanced] = service["loadBalancers"]

    routed = {
        value: action["TargetGroupArn"]
        for rule in elbv2.describe_rules(ListenerArn=listener)["Rules"]
        for condition in rule["Conditions"]
        if condition["Field"] == "path-pattern"
        for value in condition["PathPatternConfig"]["Values"]
        for action in rule["Actions"]
    }
    assert routed[f"/api/{module.name}"] == routed[f"/api/{module.name}/*"]
    assert routed[f"/api/{module.name}"] == balanced["targetGroupArn"]
    [group] = elbv2.describe_target_groups(TargetGroupArns=[balanced["targetGroupArn"]])[
        "TargetGroups"
    ]
    assert (group["TargetType"], group["HealthCheckPath"]) == ("ip", "/health/ready")
    assert not any(path.startswith(("/internal", "/metrics", "/health")) for path in routed)
    [default] = [r for r in elbv2.describe_rules(ListenerArn=listener)["Rules"] if r["IsDefault"]]
    assert default["Actions"][0]["FixedResponseConfig"]["StatusCode"] == "404"


@MODULES
def test_the_web_scales_on_cpu_and_the_consumer_on_its_queues_backlog_per_task(
    ecs: tuple[Account, dict[str, Deployed]], module: Module
) -> None:
    account, _ = ecs
    policies = {
        p["ResourceId"]: p["TargetTrackingScalingPolicyConfiguration"]
        for p in account.client("application-autoscaling").describe_scaling_policies(
            ServiceNamespace="ecs"
        )["ScalingPolicies"]
    }

    web = policies[f"service/modulith/modulith-{module.name}-web"]
    assert web["PredefinedMetricSpecification"]["PredefinedMetricType"] == (
        "ECSServiceAverageCPUUtilization"
    )
    if not module.handles:
        assert f"service/modulith/modulith-{module.name}-consumer" not in policies
        return
    consumer = policies[f"service/modulith/modulith-{module.name}-consumer"]
    metrics = {m["Id"]: m for m in consumer["CustomizedMetricSpecification"]["Metrics"]}
    visible = metrics["visible"]["MetricStat"]["Metric"]
    tasks = metrics["tasks"]["MetricStat"]["Metric"]
    assert (visible["MetricName"], visible["Dimensions"]) == (
        "ApproximateNumberOfMessagesVisible",
        [{"Name": "QueueName", "Value": f"modulith-{module.name}"}],
    )
    assert {d["Name"]: d["Value"] for d in tasks["Dimensions"]} == {
        "ClusterName": "modulith",
        "ServiceName": f"modulith-{module.name}-consumer",
    }
    assert metrics["backlog"]["Expression"] == "visible / tasks"
    assert consumer["TargetValue"] == 100


def alarms(account: Account, module: Module) -> dict[str, dict[str, Any]]:
    found = account.client("cloudwatch").describe_alarms(
        AlarmNamePrefix=f"modulith-{module.name}-"
    )["MetricAlarms"]
    return {alarm["AlarmName"].removeprefix(f"modulith-{module.name}-"): alarm for alarm in found}


def check_alarms(module: Module, found: dict[str, dict[str, Any]], topic: str) -> None:
    assert set(found) == ({"dead-letters"} if module.handles else set()) | {
        "outbox-age",
        "route-down",
    }
    if module.handles:
        dead = found["dead-letters"]
        assert (dead["Namespace"], dead["MetricName"]) == (
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
        )
        assert dead["Dimensions"] == [{"Name": "QueueName", "Value": f"modulith-{module.name}-dlq"}]
    age = found["outbox-age"]
    assert (age["Namespace"], age["MetricName"]) == (
        "Modulith",
        "modulith_outbox_oldest_pending_age_seconds",
    )
    assert age["Dimensions"] == [{"Name": "module", "Value": module.name}]
    routes = [
        {d["Name"]: d["Value"] for d in m["MetricStat"]["Metric"]["Dimensions"]}
        for m in found["route-down"]["Metrics"]
        if "MetricStat" in m
    ]
    assert routes == [{"transport": "eventbridge", "route": "modulith"}]  # the bus
    for alarm in found.values():
        assert alarm["AlarmActions"] == [topic]


@MODULES
def test_the_alarms_watch_the_modules_dead_letters_outbox_and_routes(
    ecs: tuple[Account, dict[str, Deployed]], module: Module
) -> None:
    account, deployed = ecs

    check_alarms(module, alarms(account, module), deployed["shared"].outputs["AlertTopicArn"])


def allows(statements: list[dict[str, Any]], action: str, resource: str, **context: str) -> bool:
    """IAM's evaluation, for Allow statements with StringEquals and ArnLike conditions (what
    the generated policies hold): is the request allowed?"""
    for statement in statements:
        actions = (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        resources = (
            statement["Resource"]
            if isinstance(statement["Resource"], list)
            else [statement["Resource"]]
        )
        if statement["Effect"] != "Allow":
            continue
        if not any(fnmatch.fnmatchcase(action, a) for a in actions):
            continue
        if not any(fnmatch.fnmatchcase(resource, r) for r in resources):
            continue
        conditions = statement.get("Condition", {})
        if all(
            # A list of values is any of them.
            context.get(key) in (expected if isinstance(expected, list) else [expected])
            for operator, pairs in conditions.items()
            if operator == "StringEquals"
            for key, expected in pairs.items()
        ):
            return True
    return False


def inline_statements(account: Account, role: str) -> list[dict[str, Any]]:
    iam = account.client("iam")
    statements: list[dict[str, Any]] = []
    for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
        document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        if isinstance(document, str):
            # moto's CloudFormation stores an inline policy as Python's repr of it.
            document = ast.literal_eval(document)
        statements += document["Statement"]
    return statements


def sqs(name: str) -> str:
    return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"


BUS = f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/modulith"


@pytest.mark.parametrize("module", [m for m in TOPOLOGY.modules if m.handles], ids=lambda m: m.name)
def test_the_task_roles_allow_what_the_module_needs_and_nothing_more(
    ecs: tuple[Account, dict[str, Deployed]], module: Module
) -> None:
    account, deployed = ecs
    web = inline_statements(account, deployed[module.name].physical["WebTaskRole"])
    consumer = inline_statements(account, deployed[module.name].physical["ConsumerTaskRole"])
    other = next(m.name for m in TOPOLOGY.modules if m.name != module.name)
    own_source = {
        "events:source": f"{module.name}.service",
        "events:detail-type": module.publishes[0].event_name,
    }
    foreign_source = own_source | {"events:source": f"{other}.service"}
    forged_event = own_source | {"events:detail-type": "Forged"}

    table = [
        # (role, action, resource, context, allowed)
        (consumer, "sqs:ReceiveMessage", sqs(f"modulith-{module.name}"), {}, True),
        (consumer, "sqs:DeleteMessage", sqs(f"modulith-{module.name}"), {}, True),
        (consumer, "sqs:ReceiveMessage", sqs(f"modulith-{other}"), {}, False),
        (consumer, "sqs:SendMessage", sqs(f"modulith-{module.name}-dlq"), {}, True),
        (consumer, "sqs:SendMessage", sqs(f"modulith-{other}-dlq"), {}, False),
        (consumer, "sqs:ReceiveMessage", sqs(f"modulith-{module.name}-dlq"), {}, False),
        (consumer, "sqs:PurgeQueue", sqs(f"modulith-{module.name}"), {}, False),
        (consumer, "events:PutEvents", BUS, own_source, True),
        (consumer, "events:PutEvents", BUS, foreign_source, False),
        (web, "events:PutEvents", BUS, own_source, True),
        (web, "events:PutEvents", BUS, foreign_source, False),
        (web, "events:PutEvents", BUS, forged_event, False),
        (web, "sqs:ReceiveMessage", sqs(f"modulith-{module.name}"), {}, False),
        (web, "secretsmanager:GetSecretValue", "*", {}, False),
        (web, "iam:PassRole", "*", {}, False),
    ]
    for statements, action, resource, context, expected in table:
        role = "consumer" if statements is consumer else "web"
        assert allows(statements, action, resource, **context) is expected, (
            role,
            action,
            resource,
            context,
        )


@MODULES
def test_the_lambda_stacks_deploy_with_their_event_source_tracing_role_and_alarms(
    on_lambda: tuple[Account, dict[str, Deployed]], module: Module
) -> None:
    account, deployed = on_lambda
    functions = account.client("lambda")
    names = ["web", "relay", "migrate", *(["consume"] if module.handles else [])]

    for name in names:
        configuration = functions.get_function(FunctionName=f"modulith-{module.name}-{name}")[
            "Configuration"
        ]
        # moto's handler drops TracingConfig and PackageType: the file tests check those.
        assert configuration["Environment"]["Variables"]["MODULITH_MODULES"] == module.name
    if module.handles:
        [mapping] = functions.list_event_source_mappings(
            FunctionName=f"modulith-{module.name}-consume"
        )["EventSourceMappings"]
        assert mapping["EventSourceArn"] == sqs(f"modulith-{module.name}")
        assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    topic = account.client("sns").create_topic(Name="modulith-alerts")["TopicArn"]
    check_alarms(module, alarms(account, module), topic)
    web = inline_statements(account, deployed[module.name].physical["WebRole"])
    event = module.publishes[0].event_name
    own = {"events:source": module.source, "events:detail-type": event}
    assert allows(web, "events:PutEvents", BUS, **own)
    assert not allows(web, "events:PutEvents", BUS, **(own | {"events:source": "other.service"}))
    assert not allows(web, "events:PutEvents", BUS, **(own | {"events:detail-type": "Forged"}))
    assert not allows(web, "sqs:ReceiveMessage", sqs(f"modulith-{module.name}"))


def release(account: Account, module: str, *options: str) -> list[str]:
    """The module's ECS release script with --dry-run, against the emulator: what it prints."""
    env = {
        **os.environ,
        **aws_environment(account.endpoint),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "REPOSITORY": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/shop",
    }
    result = subprocess.run(
        [
            "bash",
            str(DEPLOY / "ecs" / f"release-{module}.sh"),
            "--tag",
            "1.2",
            "--dry-run",
            *options,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.splitlines()


def test_a_release_migrates_before_it_moves_the_services_and_a_dry_run_changes_nothing(
    ecs: tuple[Account, dict[str, Deployed]],
) -> None:
    account, _ = ecs
    image = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/shop:1.2"

    steps = [line for line in release(account, "orders") if line.startswith("+ ")]

    assert steps[0] == f"+ docker build --tag {image} {ROOT}"
    assert steps[2] == f"+ docker push {image}"
    migration, services = [s for s in steps if "cloudformation deploy" in s]
    assert f"MigrationImageUri={image}" in migration
    assert "ImageUri=" not in migration.replace("MigrationImageUri=", "")  # services untouched
    assert (
        f"ImageUri={image} MigrationImageUri={image} WebMinTasks=2 ConsumerMinTasks=1" in services
    )
    order = [
        next(i for i, s in enumerate(steps) if marker in s)
        for marker in (
            "MigrationImageUri",
            "ecs run-task",
            f"ImageUri={image} Migration",
            "services-stable",
        )
    ]
    assert order == sorted(order)
    [stack] = account.client("cloudformation").describe_stacks(StackName="modulith-orders")[
        "Stacks"
    ]
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
    assert parameters["ImageUri"].endswith("shop:1")  # nothing was deployed


def test_a_first_release_creates_the_stack_with_no_task_before_it_migrates(
    ecs: tuple[Account, dict[str, Deployed]],
) -> None:
    account, _ = ecs

    steps = [
        line
        for line in release(account, "orders", "--stack", "modulith-new")
        if line.startswith(("+ ", "==> "))
    ]

    first = next(s for s in steps if "cloudformation deploy" in s)
    assert "WebMinTasks=0 ConsumerMinTasks=0" in first
    assert "==> would run the migration task of the new stack and wait for it" in steps
