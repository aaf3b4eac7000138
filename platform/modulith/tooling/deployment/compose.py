"""`compose.yaml`: the split topology on one machine, with an AWS emulator in place of AWS."""

from typing import Any

from modulith.modules import Module, Topology
from modulith.tooling.deployment.options import DeploymentOptions
from modulith.tooling.deployment.service import (
    GENERATED,
    HEALTH_COMMAND,
    SECRET,
    bus_names,
    module_environment,
)
from modulith.tooling.deployment.yaml_subset import to_yaml
from modulith.tooling.extraction import database_variable

HEADER = [
    f"# {GENERATED}:",
    "# edit the manifests or the generator, not this file (a test compares them).",
    "#",
    "# The split topology on one machine: the AWS emulator, `provision`, every module as its",
    "# own service (a web and a consumer container of the same image, on a volume of their",
    "# own), and nginx routing /api/<module> as an ALB's path rules would. Development, as",
    "# `make split` is: DJANGO_DEBUG=1 (the development secret key and API key, plain HTTP).",
    "#",
    "#   export MODULITH_INTERNAL_SECRET=$(openssl rand -hex 32)",
    "#   docker compose -f deploy/compose.yaml up --build",
]
EMULATOR_HEALTH = [
    "CMD",
    "python",
    "-c",
    "import urllib.request; urllib.request.urlopen('http://127.0.0.1:5000/moto-api/', timeout=2)",
]
EMULATOR_AWS = {
    "AWS_ENDPOINT_URL": "http://emulator:5000",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
}
WEB_HEALTH = {"interval": "5s", "timeout": "5s", "retries": 5, "start_period": "60s"}
# A split on one machine with an emulator for AWS is development: DEBUG is off unless asked for.
DEVELOPMENT = {"DJANGO_DEBUG": "1"}


def compose_file(topology: Topology, options: DeploymentOptions) -> str:
    return "\n".join([*HEADER, *to_yaml(compose_document(topology, options)), ""])


def compose_document(topology: Topology, options: DeploymentOptions) -> dict[str, Any]:
    services: dict[str, Any] = {
        "emulator": {
            "image": options.emulator_image,
            "healthcheck": {"test": EMULATOR_HEALTH, "interval": "2s", "retries": 15},
        },
        "provision": {
            **_app(options, "manage", "provision"),
            "environment": _aws(options),
            "depends_on": {"emulator": {"condition": "service_healthy"}},
            "healthcheck": {"disable": True},
        },
    }
    for module in topology.modules:
        services.update(_module_services(topology, module, options))
    services["front-door"] = _front_door(topology, options)
    volumes: dict[str, Any] = {f"{m.name}-data": {} for m in topology.modules}
    return {"name": "modulith-split", "services": services, "volumes": volumes}


def _module_services(
    topology: Topology, module: Module, options: DeploymentOptions
) -> dict[str, Any]:
    """The module's web container and, when it subscribes to events, its consumer: started
    once the web container has migrated the database."""
    environment = _environment(topology, module, options)
    volumes = [f"{module.name}-data:/app/var"]
    services = {
        module.name: {
            **_app(options, "web"),
            "environment": environment,
            "volumes": volumes,
            "depends_on": {"provision": {"condition": "service_completed_successfully"}},
            "healthcheck": {"test": HEALTH_COMMAND, **WEB_HEALTH},
        }
    }
    if module.handles:
        services[f"{module.name}-consumer"] = {
            **_app(options, "consume"),
            "environment": environment,
            "volumes": volumes,
            "depends_on": {module.name: {"condition": "service_healthy"}},
            "healthcheck": {"disable": True},
        }
    return services


def _environment(topology: Topology, module: Module, options: DeploymentOptions) -> dict[str, str]:
    urls = {m.name: f"http://{m.name}:{options.port}" for m in topology.modules}
    env = module_environment(topology, module, options, urls)
    env[database_variable(module.name)] = f"sqlite:////app/var/{module.name}.sqlite3"
    if SECRET in env:
        env[SECRET] = f"${{{SECRET}:?set {SECRET}, the same random secret for every service}}"
    return {**env, **_aws(options)}


def _front_door(topology: Topology, options: DeploymentOptions) -> dict[str, Any]:
    port = options.front_door_port
    return {
        "image": options.nginx_image,
        "ports": [f"127.0.0.1:${{SPLIT_PORT:-{port}}}:{port}"],
        "volumes": ["./nginx.conf:/etc/nginx/conf.d/default.conf:ro"],
        "depends_on": {m.name: {"condition": "service_healthy"} for m in topology.modules if m.api},
    }


def _app(options: DeploymentOptions, *command: str) -> dict[str, Any]:
    return {"image": options.image, "build": {"context": ".."}, "command": list(command)}


def _aws(options: DeploymentOptions) -> dict[str, str]:
    """The emulator's AWS, in development."""
    return {
        **DEVELOPMENT,
        **EMULATOR_AWS,
        "MODULITH_TRANSPORT": options.transport,
        **bus_names(options),
    }
