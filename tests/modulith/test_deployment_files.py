"""deploy/ holds what running the split takes (compose, nginx, ECS task definitions, Lambda
stacks); the files are generated from the manifests, and these tests fail when they drift from
them."""

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from modulith.conf import modulith_settings
from modulith.deployment import DeploymentOptions, deployment_files
from modulith.modules import Module, Topology

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
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


@pytest.mark.parametrize("module", TOPOLOGY.modules, ids=lambda m: m.name)
def test_every_module_has_a_fargate_task_definition(module: Module) -> None:
    definition = json.loads((DEPLOY / "ecs" / f"{module.name}.json").read_text())
    containers = {c["name"]: c for c in definition["containerDefinitions"]}

    assert definition["requiresCompatibilities"] == ["FARGATE"]
    assert definition["networkMode"] == "awsvpc"
    assert sorted(containers) == (["consumer", "web"] if module.handles else ["web"])
    assert containers["web"]["portMappings"][0]["containerPort"] == 8000
    assert "/health/live" in " ".join(containers["web"]["healthCheck"]["command"])
    for container in containers.values():
        env = {e["name"]: e["value"] for e in container["environment"]}
        secrets = {s["name"] for s in container["secrets"]}
        assert env["MODULITH_MODULES"] == module.name
        assert service_urls(env.get("MODULITH_SERVICE_URLS", "")) == {
            provider: f"${{{provider.upper()}_SERVICE_URL}}"
            for provider in providers_used_by(module)
        }
        assert {f"{module.name.upper()}_DATABASE_URL", "DATABASE_URL"} <= secrets
        assert container["logConfiguration"]["logDriver"] == "awslogs"
        assert not any("<" in value for value in env.values()), env  # no unfilled values


def test_services_that_call_or_answer_signed_calls_get_the_secret_from_a_secret() -> None:
    definitions: dict[str, Any] = {
        m.name: json.loads((DEPLOY / "ecs" / f"{m.name}.json").read_text())
        for m in TOPOLOGY.modules
    }
    for module in TOPOLOGY.modules:
        if module.uses or module.provides:
            web = definitions[module.name]["containerDefinitions"][0]
            assert "MODULITH_INTERNAL_SECRET" in {s["name"] for s in web["secrets"]}


def test_the_files_for_the_sns_transport_give_every_process_that_transport() -> None:
    files = deployment_files(TOPOLOGY, DeploymentOptions(transport="sns"))
    services = yaml.safe_load(files["compose.yaml"])["services"]
    definitions = [json.loads(files[f"ecs/{m.name}.json"]) for m in TOPOLOGY.modules]

    transports = {
        name: service["environment"]["MODULITH_TRANSPORT"]
        for name, service in services.items()
        if "environment" in service
    }
    assert "provision" in transports
    assert set(transports.values()) == {"sns"}
    for definition in definitions:
        for container in definition["containerDefinitions"]:
            env = {e["name"]: e["value"] for e in container["environment"]}
            assert env["MODULITH_TRANSPORT"] == "sns", container["name"]
    assert "`sns:Publish` to the module's own topic" in files["ecs/README.md"]


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
def test_every_module_has_a_lambda_stack_of_three_functions_from_the_one_image(
    module: Module,
) -> None:
    stack = lambda_stack(module)
    functions = of_type(stack, "AWS::Lambda::Function")

    assert sorted(functions) == ["ConsumeFunction", "RelayFunction", "WebFunction"]
    for name, function in functions.items():
        properties = function["Properties"]
        assert properties["PackageType"] == "Image"
        assert properties["Code"] == {"ImageUri": {"Ref": "ImageUri"}}
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
    own_secrets = {
        "DjangoDatabaseUrlSecretArn",
        f"{module.name.capitalize()}DatabaseUrlSecretArn",
        "DjangoSecretKeySecretArn",
        "ApiKeysSecretArn",
    } | ({"InternalSecretArn"} if module.uses or module.provides else set())

    for role in ("WebRole", "ConsumeRole", "RelayRole"):
        allowed = statements(stack, role)
        assert {ref["Ref"] for ref in allowed["Secrets"]["Resource"]} == own_secrets
        assert allowed["Secrets"]["Action"] == "secretsmanager:GetSecretValue"
        assert allowed["Publish"]["Action"] == "events:PutEvents"
        assert sub(allowed["Publish"]["Resource"]).endswith(":event-bus/modulith")
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


def test_cfn_lint_accepts_every_lambda_stack(tmp_path: Path) -> None:
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    paths = [str(DEPLOY / "lambda" / f"{m.name}.json") for m in TOPOLOGY.modules]
    # With the sns transport too: its publishing statement differs.
    over_topics = deployment_files(TOPOLOGY, DeploymentOptions(transport="sns"), ["lambda"])
    for module in TOPOLOGY.modules:
        path = tmp_path / f"{module.name}-sns.json"
        path.write_text(over_topics[f"lambda/{module.name}.json"])
        paths.append(str(path))

    result = subprocess.run(
        [str(cfn_lint), *paths], capture_output=True, text=True, timeout=180, check=False
    )

    assert result.returncode == 0, result.stdout + result.stderr
