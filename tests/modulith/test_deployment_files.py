"""deploy/ holds what running the split takes (compose, nginx, ECS task definitions); the files
are generated from the manifests, and these tests fail when they drift from them."""

import json
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
