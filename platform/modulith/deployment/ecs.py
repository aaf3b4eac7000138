"""ECS/Fargate task definition templates, one per module service, with `${PLACEHOLDERS}` for
what differs between accounts (render with envsubst)."""

from typing import Any

from modulith.deployment.options import DeploymentOptions
from modulith.deployment.service import (
    CONSUMER_STOP_SECONDS,
    HEALTH_COMMAND,
    SECRET,
    cloud_environment,
)
from modulith.extraction import database_variable
from modulith.modules import Module, Topology

WEB_HEALTH = {"interval": 15, "timeout": 5, "retries": 3, "startPeriod": 60}


def task_definition(
    topology: Topology, module: Module, options: DeploymentOptions
) -> dict[str, Any]:
    """One task per module service: its web container and, when the module subscribes to
    events, its consumer, from the same image and environment. Render with envsubst."""
    roles = ["web", "consume"] if module.handles else ["web"]
    return {
        "family": f"modulith-{module.name}",
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "cpu": str(options.cpu),
        "memory": str(options.memory),
        "runtimePlatform": {"cpuArchitecture": "X86_64", "operatingSystemFamily": "LINUX"},
        "executionRoleArn": "${EXECUTION_ROLE_ARN}",
        "taskRoleArn": f"${{{module.name.upper()}_TASK_ROLE_ARN}}",
        "containerDefinitions": [_container(topology, module, options, role) for role in roles],
    }


def _container(
    topology: Topology, module: Module, options: DeploymentOptions, role: str
) -> dict[str, Any]:
    env, secrets = _environment(topology, module, options)
    name = "web" if role == "web" else "consumer"
    container: dict[str, Any] = {
        "name": name,
        "image": "${IMAGE}",
        "command": [role],
        "essential": True,
        "environment": [{"name": k, "value": v} for k, v in sorted(env.items())],
        "secrets": [{"name": k, "valueFrom": v} for k, v in sorted(secrets.items())],
        "logConfiguration": _logs(module, name),
    }
    if role == "web":
        container["portMappings"] = [
            {"name": f"{module.name}-http", "containerPort": options.port, "protocol": "tcp"}
        ]
        container["healthCheck"] = {"command": HEALTH_COMMAND, **WEB_HEALTH}
    else:
        container["stopTimeout"] = CONSUMER_STOP_SECONDS
    return container


def _logs(module: Module, container: str) -> dict[str, Any]:
    return {
        "logDriver": "awslogs",
        "options": {
            "awslogs-group": f"/modulith/{module.name}",
            "awslogs-create-group": "true",
            "awslogs-region": "${AWS_REGION}",
            "awslogs-stream-prefix": container,
        },
    }


def _environment(
    topology: Topology, module: Module, options: DeploymentOptions
) -> tuple[dict[str, str], dict[str, str]]:
    """The container's plain variables, and its secrets (by ARN)."""
    urls = {m.name: f"${{{m.name.upper()}_SERVICE_URL}}" for m in topology.modules}
    env = cloud_environment(topology, module, options, urls=urls, allowed_hosts="${ALLOWED_HOSTS}")
    prefix = module.name.upper()
    arns = {
        "DATABASE_URL": f"${{{prefix}_DJANGO_DATABASE_URL_SECRET_ARN}}",
        database_variable(module.name): f"${{{prefix}_DATABASE_URL_SECRET_ARN}}",
        "DJANGO_SECRET_KEY": "${DJANGO_SECRET_KEY_SECRET_ARN}",
        "MODULITH_API_KEYS": "${API_KEYS_SECRET_ARN}",
        SECRET: "${INTERNAL_SECRET_ARN}",
    }
    return env.variables, {name: arns[name] for name in env.secrets}
