"""deploy/k8s/ holds every module service's Kubernetes manifests, generated from the manifests
(the drift test in test_deployment_files covers them too). They are valid objects of the
Kubernetes API, and they run the services as the ECS task definitions and the front door do."""

import copy
import json
import re
from io import StringIO
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from django.core.management import CommandError, call_command

from modulith.conf import modulith_settings
from modulith.modules import Module, Topology
from modulith.tooling.deployment import DeploymentOptions, deployment_files
from modulith.tooling.deployment.k8s_objects import KUBERNETES_VERSIONS

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
TOPOLOGY: Topology = modulith_settings().topology
MANIFESTS: dict[str, dict[str, Any]] = {
    name: yaml.safe_load(text)
    for name, text in deployment_files(TOPOLOGY, DeploymentOptions(), ["k8s"]).items()
    if name.endswith(".yaml")
}
# KEDA's kinds are custom resources: checked against KEDA's schema (schemas/), not the API's.
KEDA = {name: doc for name, doc in MANIFESTS.items() if doc["apiVersion"].startswith("keda.sh/")}
BUILT_IN = {name: doc for name, doc in MANIFESTS.items() if name not in KEDA}
KEDA_SCHEMAS = json.loads((Path(__file__).parent / "schemas" / "keda-v1alpha1.json").read_text())


def manifest(module: Module, file: str) -> dict[str, Any]:
    return MANIFESTS[f"k8s/{module.name}/{file}"]


def pod_spec(document: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = document["spec"]["template"]["spec"]
    return spec


def container(document: dict[str, Any]) -> dict[str, Any]:
    (only,) = pod_spec(document)["containers"]
    return dict(only)


def workloads(module: Module) -> list[dict[str, Any]]:
    files = ["web.yaml", "migrate.yaml"] + (["consumer.yaml"] if module.handles else [])
    return [manifest(module, file) for file in files]


def ecs_containers(module: Module) -> dict[str, dict[str, Any]]:
    """The containers of the module's ECS stack, by name (the collector sidecars left out)."""
    stack = json.loads((DEPLOY / "ecs" / f"{module.name}.json").read_text())
    return {
        container["Name"]: container
        for resource in stack["Resources"].values()
        if resource["Type"] == "AWS::ECS::TaskDefinition"
        for container in resource["Properties"]["ContainerDefinitions"]
        if container["Name"] != "otel-collector"
    }


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("name", sorted(BUILT_IN))
def test_every_manifest_is_a_valid_object_of_the_kubernetes_api(name: str, version: str) -> None:
    kubernetes_validate.validate(MANIFESTS[name], version, strict=True)


@pytest.mark.parametrize("name", sorted(KEDA))
def test_every_keda_object_is_valid_against_kedas_schema(name: str) -> None:
    document = MANIFESTS[name]
    jsonschema.validate(document, KEDA_SCHEMAS[document["kind"]])


def test_the_keda_schema_refuses_a_misspelt_field_and_a_wrong_type() -> None:
    planted = copy.deepcopy(MANIFESTS["k8s/orders/consumer-scaler.yaml"])
    planted["spec"]["triggers"][0]["metadta"] = planted["spec"]["triggers"][0].pop("metadata")
    with pytest.raises(jsonschema.ValidationError, match="'metadta' was unexpected"):
        jsonschema.validate(planted, KEDA_SCHEMAS["ScaledObject"])

    planted = copy.deepcopy(MANIFESTS["k8s/orders/consumer-scaler.yaml"])
    planted["spec"]["minReplicaCount"] = "one"
    with pytest.raises(jsonschema.ValidationError) as raised:
        jsonschema.validate(planted, KEDA_SCHEMAS["ScaledObject"])
    assert list(raised.value.absolute_path) == ["spec", "minReplicaCount"]


@pytest.mark.parametrize("module", [m for m in TOPOLOGY.modules if m.handles], ids=lambda m: m.name)
def test_the_consumer_scales_on_its_own_queue_and_the_web_on_cpu(module: Module) -> None:
    scaler = manifest(module, "consumer-scaler.yaml")
    autoscaler = manifest(module, "web-autoscaler.yaml")

    assert (
        scaler["spec"]["scaleTargetRef"]["name"]
        == manifest(module, "consumer.yaml")["metadata"]["name"]
    )
    [trigger] = scaler["spec"]["triggers"]
    assert trigger["type"] == "aws-sqs-queue"
    assert trigger["metadata"]["queueURL"].endswith(f"/modulith-{module.name}")
    auth = manifest(module, "consumer-scaler-auth.yaml")
    assert trigger["authenticationRef"]["name"] == auth["metadata"]["name"]
    assert auth["spec"]["podIdentity"] == {"provider": "aws", "identityOwner": "workload"}
    assert (
        autoscaler["spec"]["scaleTargetRef"]["name"]
        == manifest(module, "web.yaml")["metadata"]["name"]
    )
    [metric] = autoscaler["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"
    for workload in ("web.yaml", "consumer.yaml"):  # the autoscalers own the replicas
        assert "replicas" not in manifest(module, workload)["spec"]


@pytest.mark.parametrize("module", TOPOLOGY.modules, ids=lambda m: m.name)
def test_no_pod_holds_a_kubernetes_api_token(module: Module) -> None:
    assert manifest(module, "serviceaccount.yaml")["automountServiceAccountToken"] is False
    for workload in workloads(module):
        assert pod_spec(workload)["automountServiceAccountToken"] is False


@pytest.mark.parametrize("module", TOPOLOGY.modules, ids=lambda m: m.name)
def test_only_the_load_balancer_the_callers_and_the_scraper_reach_the_web(module: Module) -> None:
    isolation = manifest(module, "network-isolation.yaml")["spec"]
    web = manifest(module, "network-web.yaml")["spec"]

    # Every pod of the module: no ingress at all, unless another policy opens it.
    assert isolation["podSelector"]["matchLabels"] == {
        "app.kubernetes.io/name": f"modulith-{module.name}"
    }
    assert isolation["policyTypes"] == ["Ingress"]
    assert "ingress" not in isolation
    assert web["podSelector"] == manifest(module, "web.yaml")["spec"]["selector"]
    sources = [rule["from"][0] for rule in web["ingress"]]
    assert all(rule["ports"] == [{"protocol": "TCP", "port": "http"}] for rule in web["ingress"])
    assert {"ipBlock": {"cidr": "${LOAD_BALANCER_CIDR}"}} in sources
    assert {
        "namespaceSelector": {
            "matchLabels": {"kubernetes.io/metadata.name": "${METRICS_NAMESPACE}"}
        }
    } in sources
    callers = {
        user.name
        for user in TOPOLOGY.modules
        if any(TOPOLOGY.provider_of(port)[0].name == module.name for port in user.uses)
    }
    pods = [
        s["podSelector"]["matchExpressions"][0]["values"] for s in sources if "podSelector" in s
    ]
    assert pods == ([[f"modulith-{name}" for name in sorted(callers)]] if callers else [])


def test_the_validator_reports_a_wrong_type_by_its_field() -> None:
    planted = copy.deepcopy(MANIFESTS["k8s/orders/web.yaml"])
    planted["spec"]["replicas"] = "two"

    with pytest.raises(kubernetes_validate.ValidationError) as raised:
        kubernetes_validate.validate(planted, KUBERNETES_VERSIONS[-1], strict=True)

    assert list(raised.value.absolute_path) == ["spec", "replicas"]
    assert "'two' is not of type 'integer'" in raised.value.message


def test_the_validator_reports_a_misspelt_field() -> None:
    planted = copy.deepcopy(MANIFESTS["k8s/orders/web.yaml"])
    pod_spec(planted)["containers"][0]["readynessProbe"] = {"httpGet": {"path": "/", "port": 1}}

    with pytest.raises(kubernetes_validate.ValidationError) as raised:
        kubernetes_validate.validate(planted, KUBERNETES_VERSIONS[-1], strict=True)

    assert "'readynessProbe' was unexpected" in raised.value.message


def entrypoint_roles() -> set[str]:
    cases = re.findall(r"^  ([\w |]+)\)", (DEPLOY / "entrypoint.sh").read_text(), re.M)
    return {role for case in cases for role in case.split(" | ")}


@pytest.mark.parametrize("module", TOPOLOGY.modules, ids=lambda m: m.name)
def test_each_workload_runs_a_role_of_the_image_as_ecs_does(module: Module) -> None:
    roles = {name: c["Command"] for name, c in ecs_containers(module).items()}

    assert container(manifest(module, "web.yaml"))["args"] == roles["web"] == ["web"]
    if module.handles:
        assert container(manifest(module, "consumer.yaml"))["args"] == roles["consumer"]
    assert container(manifest(module, "migrate.yaml"))["args"] == ["migrate"]
    assert {c["args"][0] for c in map(container, workloads(module))} <= entrypoint_roles()


@pytest.mark.parametrize("module", TOPOLOGY.modules, ids=lambda m: m.name)
def test_the_web_is_probed_on_the_health_endpoints_and_the_consumer_not_at_all(
    module: Module,
) -> None:
    web = container(manifest(module, "web.yaml"))

    assert web["livenessProbe"]["httpGet"] == {"path": "/health/live", "port": "http"}
    assert web["startupProbe"]["httpGet"] == {"path": "/health/live", "port": "http"}
    assert web["readinessProbe"]["httpGet"] == {"path": "/health/ready", "port": "http"}
    assert web["ports"] == [{"name": "http", "containerPort": 8000, "protocol": "TCP"}]
    if module.handles:
        consumer = container(manifest(module, "consumer.yaml"))
        assert not {"livenessProbe", "readinessProbe", "startupProbe"} & set(consumer)


def dockerfile_user() -> tuple[int, int]:
    (user,) = re.findall(r"^USER (\d+):(\d+)$", (ROOT / "Dockerfile").read_text(), re.M)
    return int(user[0]), int(user[1])


@pytest.mark.parametrize("module", TOPOLOGY.modules, ids=lambda m: m.name)
def test_every_pod_runs_unprivileged_as_the_images_user(module: Module) -> None:
    for workload in workloads(module):
        pod = pod_spec(workload)
        assert pod["securityContext"] == {
            "runAsNonRoot": True,
            "runAsUser": dockerfile_user()[0],
            "runAsGroup": dockerfile_user()[1],
            "seccompProfile": {"type": "RuntimeDefault"},
        }
        assert container(workload)["securityContext"] == {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        }
        mounts = {m["mountPath"] for m in container(workload)["volumeMounts"]}
        assert mounts == {"/tmp", "/home/app"}  # gunicorn's heartbeats and control socket
        resources = container(workload)["resources"]
        assert set(resources["requests"]) == set(resources["limits"]) == {"cpu", "memory"}


@pytest.mark.parametrize("module", TOPOLOGY.modules, ids=lambda m: m.name)
def test_pods_have_the_ecs_variables_from_a_config_map_and_its_secrets_from_secrets(
    module: Module,
) -> None:
    ecs = ecs_containers(module)
    config = manifest(module, "configmap.yaml")

    # ECS's own: its region from the stack, its metrics as EMF, its collector on localhost.
    own = {"AWS_DEFAULT_REGION", "MODULITH_METRICS_EMF", "OTEL_EXPORTER_OTLP_ENDPOINT"}
    assert set(config["data"]) | own == {e["Name"] for e in ecs["web"]["Environment"]} | {
        "OTEL_EXPORTER_OTLP_ENDPOINT"
    }
    assert config["data"]["MODULITH_MODULES"] == module.name
    for workload in workloads(module):
        env = container(workload)
        assert env["envFrom"] == [{"configMapRef": {"name": config["metadata"]["name"]}}]
        secrets = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in env["env"]}
        assert set(secrets) == {s["Name"] for s in ecs[env["name"]]["Secrets"]}
        assert all(ref["key"] == name for name, ref in secrets.items())
        database = secrets[f"{module.name.upper()}_DATABASE_URL"]["name"]
        assert database == f"modulith-{module.name}"  # a module's database is its own secret
        assert secrets["DJANGO_SECRET_KEY"]["name"] == "modulith-shared"


@pytest.mark.parametrize("module", TOPOLOGY.modules, ids=lambda m: m.name)
def test_the_services_a_module_calls_are_where_its_config_says(module: Module) -> None:
    urls = manifest(module, "configmap.yaml")["data"].get("MODULITH_SERVICE_URLS", "")
    for item in filter(None, urls.split(",")):
        provider, url = item.split("=", 1)
        host, port = url.removeprefix("http://").split(":")
        service = manifest(TOPOLOGY.module(provider), "service.yaml")
        web = manifest(TOPOLOGY.module(provider), "web.yaml")
        assert service["metadata"]["name"] == host
        assert service["spec"]["ports"][0]["port"] == int(port)
        assert service["spec"]["selector"] == web["spec"]["selector"]["matchLabels"]
    hosts = manifest(module, "configmap.yaml")["data"]["DJANGO_ALLOWED_HOSTS"].split(",")
    assert manifest(module, "service.yaml")["metadata"]["name"] in hosts  # its callers' Host


@pytest.mark.parametrize("module", [m for m in TOPOLOGY.modules if m.handles], ids=lambda m: m.name)
def test_the_consumer_has_the_time_to_stop_that_ecs_gives_it(module: Module) -> None:
    consumer = pod_spec(manifest(module, "consumer.yaml"))

    assert (
        consumer["terminationGracePeriodSeconds"]
        == ecs_containers(module)["consumer"]["StopTimeout"]
    )


@pytest.mark.parametrize("module", TOPOLOGY.modules, ids=lambda m: m.name)
def test_the_migration_is_a_job_that_gives_up_and_clears_itself(module: Module) -> None:
    job = manifest(module, "migrate.yaml")

    assert job["kind"] == "Job"
    assert job["spec"]["backoffLimit"] >= 1
    assert job["spec"]["ttlSecondsAfterFinished"] > 0
    assert pod_spec(job)["restartPolicy"] == "Never"
    config = manifest(module, "configmap.yaml")["data"]
    assert config["MODULITH_MIGRATE_ON_START"] == "0"  # the Job migrates, the pods do not


@pytest.mark.parametrize("module", TOPOLOGY.modules, ids=lambda m: m.name)
def test_every_pod_has_the_modules_iam_role_through_its_service_account(module: Module) -> None:
    account = manifest(module, "serviceaccount.yaml")

    role = account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
    assert role == f"${{{module.name.upper()}_ROLE_ARN}}"
    for workload in workloads(module):
        assert pod_spec(workload)["serviceAccountName"] == account["metadata"]["name"]


def nginx_locations() -> set[tuple[str, str]]:
    routes = (DEPLOY / "nginx.conf").read_text()
    found = re.findall(r"location (.+?) \{ proxy_pass http://(\w+); \}", routes)
    return {(match, f"modulith-{upstream}") for match, upstream in found}


def ingresses() -> list[dict[str, Any]]:
    return [m for m in MANIFESTS.values() if m["kind"] == "Ingress"]


def test_the_ingresses_route_exactly_what_the_nginx_front_door_routes() -> None:
    locations = set()
    for ingress in ingresses():
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                service = path["backend"]["service"]["name"]
                locations.add((f"= {path['path']}", service))
                if path["pathType"] == "Prefix":
                    locations.add((f"{path['path']}/", service))

    assert locations == nginx_locations()
    assert not any(p.startswith(("= /internal", "= /health", "= /metrics")) for p, _ in locations)


def test_every_ingress_joins_one_alb_with_the_same_settings() -> None:
    annotations = [i["metadata"]["annotations"] for i in ingresses()]

    assert len(ingresses()) == len([m for m in TOPOLOGY.modules if m.api])
    assert all(a == annotations[0] for a in annotations)
    assert annotations[0]["alb.ingress.kubernetes.io/group.name"] == "modulith"
    assert annotations[0]["alb.ingress.kubernetes.io/target-type"] == "ip"
    assert annotations[0]["alb.ingress.kubernetes.io/scheme"] == "internet-facing"
    assert annotations[0]["alb.ingress.kubernetes.io/healthcheck-path"] == "/health/ready"
    assert {i["spec"]["ingressClassName"] for i in ingresses()} == {"alb"}


def test_the_command_writes_the_kubernetes_manifests_alone_and_finds_one_stale(
    tmp_path: Path,
) -> None:
    out = str(tmp_path)
    call_command("deployment", "--format", "k8s", "--out", out, stdout=StringIO())
    written = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()}
    assert written == {*MANIFESTS, "k8s/README.md"}

    (tmp_path / "k8s" / "orders" / "web.yaml").write_text("kind: Deployment\n")
    with pytest.raises(CommandError, match=r"out of date in .*: k8s/orders/web.yaml; regenerate"):
        call_command("deployment", "--format", "k8s", "--out", out, "--check")
