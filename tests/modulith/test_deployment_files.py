"""deploy/ holds what running the split takes (compose, nginx, ECS task definitions, Lambda
stacks); the files are generated from the manifests, and these tests fail when they drift from
them."""

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from modulith.conf import modulith_settings
from modulith.modules import Module, Topology
from modulith.tooling.deployment import DeploymentOptions, deployment_files

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
BIN = Path(sys.executable).parent
REGENERATE = "python manage.py deployment --out deploy/"
TOPOLOGY: Topology = modulith_settings().topology
GENERATED = deployment_files(TOPOLOGY, DeploymentOptions())


@pytest.mark.parametrize("name", sorted(GENERATED))
def test_the_committed_file_is_what_the_manifests_generate(name: str) -> None:
    path = DEPLOY / name
    assert path.exists(), f"deploy/{name} is missing: run `{REGENERATE}`"
    assert path.read_text() == GENERATED[name], f"deploy/{name} is out of date: run `{REGENERATE}`"


def providers_used_by(module: Module) -> set[str]:
    return {TOPOLOGY.provider_of(port)[0].name for port in module.uses}


def service_urls(text: str) -> dict[str, str]:
    return dict(item.split("=", 1) for item in text.split(",") if item)


@pytest.mark.parametrize("module", TOPOLOGY.modules, ids=lambda m: m.name)
def test_compose_runs_every_module_as_its_own_service(module: Module) -> None:
    services = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]
    names = [module.name] + ([f"{module.name}-consumer"] if module.handles else [])

    for name in names:
        env = services[name]["environment"]
        assert env["MODULITH_MODULES"] == module.name
        assert env["MODULITH_TRANSPORT"] in {"sqs", "sns", "eventbridge"}
        assert env["DJANGO_DEBUG"] == "1"  # a split on one machine, with an emulator
        assert service_urls(env.get("MODULITH_SERVICE_URLS", "")) == {
            provider: f"http://{provider}:8000" for provider in providers_used_by(module)
        }
    assert services[module.name]["command"] == ["web"]
    if module.handles:
        assert services[f"{module.name}-consumer"]["command"] == ["consume"]


def test_the_compose_front_door_routes_each_module_to_its_service() -> None:
    routes = (DEPLOY / "nginx.conf").read_text()

    for module in TOPOLOGY.modules:
        assert f"location /api/{module.name}/ {{ proxy_pass http://{module.name}; }}" in routes
        assert f"server {module.name}:8000;" in routes
    assert "location /internal/ { return 404; }" in routes


def ecs_stack(module: Module, files: dict[str, str] | None = None) -> dict[str, Any]:
    text = (files or GENERATED)[f"ecs/{module.name}.json"]
    return dict(json.loads(text))


def containers(stack: dict[str, Any], task_definition: str) -> dict[str, dict[str, Any]]:
    """The containers of one of the stack's task definitions, by name."""
    properties = stack["Resources"][task_definition]["Properties"]
    return {c["Name"]: c for c in properties["ContainerDefinitions"]}


def environment_of(container: dict[str, Any]) -> dict[str, Any]:
    return {e["Name"]: e["Value"] for e in container["Environment"]}


def task_definitions(module: Module) -> list[str]:
    kinds = ["Web", "Consumer", "Migrate"] if module.handles else ["Web", "Migrate"]
    return [f"{kind}TaskDefinition" for kind in kinds]


@pytest.mark.parametrize("module", TOPOLOGY.modules, ids=lambda m: m.name)
def test_every_module_service_is_a_fargate_stack_of_its_roles(module: Module) -> None:
    stack = ecs_stack(module)
    roles = {
        name: container["Command"]
        for definition in task_definitions(module)
        for name, container in containers(stack, definition).items()
        if name != "otel-collector"
    }

    assert roles == {
        "web": ["web"],
        "migrate": ["migrate"],
        **({"consumer": ["consume"]} if module.handles else {}),
    }
    for definition in task_definitions(module):
        properties = stack["Resources"][definition]["Properties"]
        assert properties["RequiresCompatibilities"] == ["FARGATE"]
        assert properties["NetworkMode"] == "awsvpc"
        for name, container in containers(stack, definition).items():
            assert container["LogConfiguration"]["LogDriver"] == "awslogs"
            if name == "otel-collector":
                continue
            env = environment_of(container)
            assert env["MODULITH_MODULES"] == module.name
            assert env["DJANGO_DEBUG"] == "0"
            assert service_urls(env.get("MODULITH_SERVICE_URLS", "")) == {
                provider: f"http://{provider}.internal:8000"
                for provider in providers_used_by(module)
            }
            assert {s["Name"] for s in container["Secrets"]} >= {
                f"{module.name.upper()}_DATABASE_URL",
                "DATABASE_URL",
            }
            assert not any("<" in str(value) for value in env.values()), env
    web = containers(stack, "WebTaskDefinition")["web"]
    assert web["PortMappings"][0]["ContainerPort"] == 8000
    assert "/health/live" in " ".join(web["HealthCheck"]["Command"])


@pytest.mark.parametrize("module", TOPOLOGY.modules, ids=lambda m: m.name)
def test_each_role_gets_only_the_secrets_it_uses(module: Module) -> None:
    stack = ecs_stack(module)
    signed = bool(module.uses or module.provides)
    databases = {"DATABASE_URL", f"{module.name.upper()}_DATABASE_URL", "DJANGO_SECRET_KEY"}
    expected = {
        "web": databases
        | {"MODULITH_API_KEYS"}
        | ({"MODULITH_INTERNAL_SECRET"} if signed else set()),
        "consumer": databases | ({"MODULITH_INTERNAL_SECRET"} if module.uses else set()),
        "migrate": databases | ({"MODULITH_INTERNAL_SECRET"} if module.uses else set()),
    }

    for definition in task_definitions(module):
        properties = stack["Resources"][definition]["Properties"]
        for name, container in containers(stack, definition).items():
            if name == "otel-collector":
                assert "Secrets" not in container
                continue
            given = {s["Name"] for s in container["Secrets"]}
            assert given == expected[name], name
            # The execution role of the task reads exactly those secrets.
            role = properties["ExecutionRoleArn"]["Fn::GetAtt"][0]
            [policy] = stack["Resources"][role]["Properties"]["Policies"]
            [statement] = policy["PolicyDocument"]["Statement"]
            assert statement["Action"] == "secretsmanager:GetSecretValue"
            assert sorted(r["Ref"] for r in statement["Resource"]) == sorted(
                s["ValueFrom"]["Ref"] for s in container["Secrets"]
            )


@pytest.mark.parametrize("module", TOPOLOGY.modules, ids=lambda m: m.name)
def test_every_container_has_a_read_only_root_and_no_capabilities(module: Module) -> None:
    stack = ecs_stack(module)

    for definition in task_definitions(module):
        properties = stack["Resources"][definition]["Properties"]
        volumes = {v["Name"] for v in properties["Volumes"]}
        for name, container in containers(stack, definition).items():
            assert container["ReadonlyRootFilesystem"] is True, name
            assert container["LinuxParameters"]["Capabilities"] == {"Drop": ["ALL"]}, name
            if name != "otel-collector":
                assert container["User"] == "10001:10001"
                mounts = {m["ContainerPath"]: m["SourceVolume"] for m in container["MountPoints"]}
                assert set(mounts) == {"/tmp", "/home/app"}  # writable, and nothing else
                assert set(mounts.values()) <= volumes


def test_every_role_that_sends_traces_may_write_to_x_ray() -> None:
    """The ECS task roles (their collector sidecar) and every Lambda function's role (active
    tracing)."""
    xray = {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/AWSXRayDaemonWriteAccess"}
    for module in TOPOLOGY.modules:
        for shape, stack in (("ecs", ecs_stack(module)), ("lambda", lambda_stack(module))):
            roles = {
                name: resource["Properties"]
                for name, resource in stack["Resources"].items()
                if resource["Type"] == "AWS::IAM::Role" and "Execution" not in name
            }
            assert roles, (shape, module.name)
            for name, role in roles.items():
                assert role["ManagedPolicyArns"] == [xray], (shape, name)


def test_no_generated_file_turns_debug_on() -> None:
    """Not the files that deploy to AWS or Kubernetes, nor the image. compose.yaml is the split
    on one machine with the AWS emulator, development as `make split` is, and says so."""
    for name, text in GENERATED.items():
        if name == "compose.yaml":
            assert "Development, as\n# `make split` is: DJANGO_DEBUG=1" in text
            continue
        assert not re.search(r"DJANGO_DEBUG\W+(1|true|on)\b", text, re.I), name
    dockerfile = (DEPLOY.parent / "Dockerfile").read_text()
    assert not re.search(r"^\s*ENV[^\n]*DJANGO_DEBUG=1", dockerfile, re.M)


@pytest.mark.parametrize("module", TOPOLOGY.modules, ids=lambda m: m.name)
def test_the_services_set_djangos_https_settings_behind_the_load_balancer(module: Module) -> None:
    web = environment_of(containers(ecs_stack(module), "WebTaskDefinition")["web"])
    lambda_web = lambda_stack(module)["Resources"]["MigrateFunction"]["Properties"]
    lambda_env = lambda_web["Environment"]["Variables"]
    config = yaml.safe_load(GENERATED[f"k8s/{module.name}/configmap.yaml"])["data"]

    for env in (web, lambda_env, config):
        assert env["DJANGO_SECURE_SSL_REDIRECT"] == "1"
        assert env["DJANGO_SECURE_PROXY_SSL_HEADER"] == "X-Forwarded-Proto"
        assert "DJANGO_SECURE_HSTS_SECONDS" in env
        assert "https://" in str(env["DJANGO_CSRF_TRUSTED_ORIGINS"])
    assert web["DJANGO_CSRF_TRUSTED_ORIGINS"] == {"Fn::Sub": "https://${PublicHost}"}


def test_the_files_for_the_sns_transport_give_every_process_that_transport() -> None:
    files = deployment_files(TOPOLOGY, DeploymentOptions(transport="sns"))
    services = yaml.safe_load(files["compose.yaml"])["services"]
    stacks = [ecs_stack(m, files) for m in TOPOLOGY.modules]

    transports = {
        name: service["environment"]["MODULITH_TRANSPORT"]
        for name, service in services.items()
        if "environment" in service
    }
    assert "provision" in transports
    assert set(transports.values()) == {"sns"}
    for stack in stacks:
        for name, container in containers(stack, "WebTaskDefinition").items():
            if name != "otel-collector":
                assert environment_of(container)["MODULITH_TRANSPORT"] == "sns", name
    assert "with sns its own topic" in files["ecs/README.md"]


def lambda_stack(module: Module) -> dict[str, Any]:
    return dict(json.loads((DEPLOY / "lambda" / f"{module.name}.json").read_text()))


def of_type(stack: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in stack["Resources"].items() if r["Type"] == kind}


def statements(stack: dict[str, Any], role: str) -> dict[str, dict[str, Any]]:
    [policy] = stack["Resources"][role]["Properties"]["Policies"]
    return {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}


def sub(value: Any) -> str:
    """The text of a {"Fn::Sub": ...} value."""
    return str(value["Fn::Sub"])


@pytest.mark.parametrize("module", TOPOLOGY.modules, ids=lambda m: m.name)
def test_every_module_has_a_lambda_stack_of_its_functions_from_the_one_image(
    module: Module,
) -> None:
    stack = lambda_stack(module)
    functions = of_type(stack, "AWS::Lambda::Function")

    assert sorted(functions) == [
        "ConsumeFunction",
        "MigrateFunction",
        "RelayFunction",
        "WebFunction",
    ]
    for name, function in functions.items():
        properties = function["Properties"]
        assert properties["PackageType"] == "Image"
        assert properties["TracingConfig"] == {"Mode": "Active"}
        image = properties["Code"]["ImageUri"]
        if name == "MigrateFunction":  # the release's image, before the others move to it
            assert image == {
                "Fn::If": ["MigrationImageGiven", {"Ref": "MigrationImageUri"}, {"Ref": "ImageUri"}]
            }
        else:
            assert image == {"Ref": "ImageUri"}
        assert properties["ImageConfig"]["Command"] == [
            "lambda",
            name.removesuffix("Function").lower(),
        ]
        env = properties["Environment"]["Variables"]
        assert env["MODULITH_MODULES"] == module.name
        assert env["DJANGO_DEBUG"] == "0"
        # Secrets are read at the cold start, never written into the function's configuration.
        assert f"{module.name.upper()}_DATABASE_URL" not in env
        assert env[f"{module.name.upper()}_DATABASE_URL_SECRET_ARN"] == {
            "Ref": f"{module.name.capitalize()}DatabaseUrlSecretArn"
        }
        assert properties["Role"] == {"Fn::GetAtt": [name.replace("Function", "Role"), "Arn"]}


@pytest.mark.parametrize("module", TOPOLOGY.modules, ids=lambda m: m.name)
def test_the_consume_function_reads_the_modules_queue_with_partial_batch_responses(
    module: Module,
) -> None:
    stack = lambda_stack(module)
    [mapping] = of_type(stack, "AWS::Lambda::EventSourceMapping").values()
    properties = mapping["Properties"]

    assert properties["FunctionName"] == {"Ref": "ConsumeFunction"}
    assert sub(properties["EventSourceArn"]).endswith(f":modulith-{module.name}")
    assert properties["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    consume = stack["Resources"]["ConsumeFunction"]["Properties"]
    assert consume["Timeout"] < 30  # below the queues' visibility timeout, as Lambda requires


@pytest.mark.parametrize("module", TOPOLOGY.modules, ids=lambda m: m.name)
def test_the_relay_function_runs_on_a_schedule(module: Module) -> None:
    stack = lambda_stack(module)
    [rule] = of_type(stack, "AWS::Events::Rule").values()
    permissions = of_type(stack, "AWS::Lambda::Permission")

    assert rule["Properties"]["ScheduleExpression"] == "rate(1 minute)"
    assert rule["Properties"]["Targets"][0]["Arn"] == {"Fn::GetAtt": ["RelayFunction", "Arn"]}
    schedule = permissions["RelaySchedulePermission"]["Properties"]
    assert (schedule["Principal"], schedule["SourceArn"]) == (
        "events.amazonaws.com",
        {"Fn::GetAtt": ["RelaySchedule", "Arn"]},
    )


@pytest.mark.parametrize("module", TOPOLOGY.modules, ids=lambda m: m.name)
def test_the_http_api_routes_the_modules_paths_to_its_web_function(module: Module) -> None:
    stack = lambda_stack(module)
    routes = {
        r["Properties"]["RouteKey"]: r["Properties"]["AuthorizationType"]
        for r in of_type(stack, "AWS::ApiGatewayV2::Route").values()
    }
    [integration] = of_type(stack, "AWS::ApiGatewayV2::Integration").values()

    public = {f"ANY /api/{module.name}": "NONE", f"ANY /api/{module.name}/{{proxy+}}": "NONE"}
    # Not on the public API: only the roles granted execute-api:Invoke reach it.
    internal = {f"POST /internal/{module.name}/{{proxy+}}": "AWS_IAM"} if module.provides else {}
    assert routes == public | internal
    assert integration["Properties"]["PayloadFormatVersion"] == "2.0"
    assert integration["Properties"]["IntegrationUri"] == {"Fn::GetAtt": ["WebFunction", "Arn"]}
    [rule] = of_type(stack, "AWS::ElasticLoadBalancingV2::ListenerRule").values()
    [paths] = [c["PathPatternConfig"]["Values"] for c in rule["Properties"]["Conditions"]]
    assert paths == [f"/api/{module.name}", f"/api/{module.name}/*"]
    assert rule["Condition"] == "BehindAlb"


@pytest.mark.parametrize("module", TOPOLOGY.modules, ids=lambda m: m.name)
def test_each_function_may_touch_only_its_modules_queue_secrets_and_bus(module: Module) -> None:
    stack = lambda_stack(module)
    databases = {
        "DjangoDatabaseUrlSecretArn",
        f"{module.name.capitalize()}DatabaseUrlSecretArn",
        "DjangoSecretKeySecretArn",
    }
    signed = {"InternalSecretArn"} if module.uses or module.provides else set()
    own_secrets = {
        "WebRole": databases | {"ApiKeysSecretArn"} | signed,
        # A function that serves no API reads no API key; the internal secret only where the
        # module calls another's port.
        "ConsumeRole": databases | ({"InternalSecretArn"} if module.uses else set()),
        "RelayRole": databases | ({"InternalSecretArn"} if module.uses else set()),
    }

    for role in ("WebRole", "ConsumeRole", "RelayRole"):
        allowed = statements(stack, role)
        assert {ref["Ref"] for ref in allowed["Secrets"]["Resource"]} == own_secrets[role]
        function = stack["Resources"][role.replace("Role", "Function")]["Properties"]
        given = {
            value["Ref"]
            for name, value in function["Environment"]["Variables"].items()
            if name.endswith("_SECRET_ARN")
        }
        assert given == own_secrets[role]
        assert allowed["Secrets"]["Action"] == "secretsmanager:GetSecretValue"
        assert allowed["Publish"]["Action"] == "events:PutEvents"
        assert sub(allowed["Publish"]["Resource"]).endswith(":event-bus/modulith")
        # Only the module's own events: its source, its detail-types (checked per entry).
        assert allowed["Publish"]["Condition"] == {
            "StringEquals": {
                "events:source": f"{module.name}.service",
                "events:detail-type": sorted(e.event_name for e in module.publishes),
            }
        }
        assert allowed["Logs"]["Resource"] == {
            "Fn::GetAtt": [role.replace("Role", "LogGroup"), "Arn"]
        }
        queues = [s for s in allowed.values() if any(a.startswith("sqs:") for a in _actions(s))]
        if role == "ConsumeRole":
            assert sorted(sub(s["Resource"]).rsplit(":", 1)[1] for s in queues) == [
                f"modulith-{module.name}",
                f"modulith-{module.name}-dlq",
            ]
        else:
            assert queues == [], role  # only the consume function touches a queue
        everywhere = [s["Sid"] for s in allowed.values() if s["Resource"] == "*"]
        assert everywhere == ["Network"]  # the VPC's network interfaces have no ARN to name


@pytest.mark.parametrize("module", TOPOLOGY.modules, ids=lambda m: m.name)
def test_only_the_users_of_a_port_may_invoke_its_providers_internal_route(module: Module) -> None:
    stack = lambda_stack(module)
    providers = sorted(providers_used_by(module))

    for role in ("WebRole", "ConsumeRole", "RelayRole"):
        allowed = statements(stack, role)
        invoking = [s for s in allowed.values() if "execute-api:Invoke" in _actions(s)]
        if role == "RelayRole" or not providers:
            assert invoking == [], role  # the relay calls no port
            continue
        [statement] = invoking
        arns = [arn["Fn::Sub"] for arn in statement["Resource"]]
        assert [text.rsplit(":", 1)[1] for text, _ in arns] == [
            f"${{Api}}/*/POST/internal/{provider}/*" for provider in providers
        ]
        assert [names["Api"] for _, names in arns] == [
            {"Ref": f"{provider.capitalize()}HttpApiId"} for provider in providers
        ]
    web = stack["Resources"]["WebFunction"]["Properties"]["Environment"]["Variables"]
    assert ("MODULITH_INTERNAL_SIGV4" in web) == bool(providers)


@pytest.mark.parametrize("module", TOPOLOGY.modules, ids=lambda m: m.name)
def test_the_public_stage_is_throttled_and_logs_every_request(module: Module) -> None:
    stack = lambda_stack(module)
    stage = stack["Resources"]["HttpApiStage"]["Properties"]
    log_group = stack["Resources"]["HttpApiAccessLogGroup"]

    assert stage["DefaultRouteSettings"] == {
        "ThrottlingRateLimit": {"Ref": "ThrottlingRateLimit"},
        "ThrottlingBurstLimit": {"Ref": "ThrottlingBurstLimit"},
    }
    assert {name: p["Type"] for name, p in stack["Parameters"].items() if "Throttling" in name} == {
        "ThrottlingRateLimit": "Number",
        "ThrottlingBurstLimit": "Number",
    }
    assert stage["AccessLogSettings"]["DestinationArn"] == {
        "Fn::GetAtt": ["HttpApiAccessLogGroup", "Arn"]
    }
    logged = json.loads(stage["AccessLogSettings"]["Format"])
    assert {"requestId", "ip", "caller", "routeKey", "status"} <= set(logged)
    assert log_group["Properties"]["RetentionInDays"] == 30


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)


def test_with_the_sqs_transport_functions_may_send_only_to_the_subscribers_queues() -> None:
    files = deployment_files(TOPOLOGY, DeploymentOptions(transport="sqs"), ["lambda"])
    stack = json.loads(files["lambda/payments.json"])

    publish = statements(stack, "RelayRole")["Publish"]

    subscribers = {
        subscriber.name
        for event in TOPOLOGY.module("payments").publishes
        for subscriber in TOPOLOGY.subscribers_of(event.event_name)
    }
    assert publish["Action"] == ["sqs:SendMessage", "sqs:GetQueueUrl"]
    assert {sub(arn).rsplit(":", 1)[1] for arn in publish["Resource"]} == {
        f"modulith-{name}" for name in subscribers
    }


def test_with_the_sns_transport_functions_may_publish_only_to_the_modules_own_topic() -> None:
    files = deployment_files(TOPOLOGY, DeploymentOptions(transport="sns"), ["lambda"])

    for module in TOPOLOGY.modules:
        stack = json.loads(files[f"lambda/{module.name}.json"])
        for role in ("WebRole", "ConsumeRole", "RelayRole"):
            publish = statements(stack, role)["Publish"]
            assert publish["Action"] == "sns:Publish"
            assert sub(publish["Resource"]).endswith(
                f":sns:${{AWS::Region}}:${{AWS::AccountId}}:modulith-{module.name}"
            )
        web = stack["Resources"]["WebFunction"]["Properties"]["Environment"]["Variables"]
        assert web["MODULITH_TRANSPORT"] == "sns"


def test_cfn_lint_accepts_every_stack(tmp_path: Path) -> None:
    """Every stack of ECS and Lambda, with each transport: their publishing statements, the
    topics and the routes their alarms watch differ."""
    paths = [str(DEPLOY / "ecs" / "shared.json")]
    paths += [
        str(DEPLOY / shape / f"{m.name}.json")
        for shape in ("ecs", "lambda")
        for m in TOPOLOGY.modules
    ]
    for transport in ("sns", "sqs"):
        files = deployment_files(
            TOPOLOGY, DeploymentOptions(transport=transport), ["ecs", "lambda"]
        )
        for name, text in files.items():
            if name.endswith(".json"):
                path = tmp_path / transport / name
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text)
                paths.append(str(path))

    result = subprocess.run(
        [str(BIN / "cfn-lint"), *paths], capture_output=True, text=True, timeout=300, check=False
    )

    assert result.returncode == 0, result.stdout + result.stderr


def test_shellcheck_accepts_the_release_scripts_and_the_entrypoint() -> None:
    scripts = [str(path) for path in DEPLOY.glob("*/release-*.sh")]
    assert len(scripts) == 2 * len(TOPOLOGY.modules)

    result = subprocess.run(
        [str(BIN / "shellcheck"), *scripts, str(DEPLOY / "entrypoint.sh")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
