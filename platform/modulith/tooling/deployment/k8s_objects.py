"""What every Kubernetes object of a module service shares: its names and labels, its identity
(a ServiceAccount bound to an IAM role) and its configuration (a ConfigMap, two Secrets)."""

from dataclasses import dataclass, replace
from typing import Any

from modulith.modules import Module, Topology
from modulith.tooling.deployment.options import DeploymentOptions
from modulith.tooling.deployment.service import (
    CloudEnvironment,
    cloud_environment,
    https_environment,
    tracing_environment,
)

SHARED_SECRET = "modulith-shared"  # what every service holds alike: one Secret for all
COLLECTOR = "modulith-otel-collector"  # the ADOT collector's Deployment and Service
NAME_LABEL = "app.kubernetes.io/name"
# The oldest Kubernetes the manifests are written for, and the newest the validator knows.
KUBERNETES_VERSIONS = ("1.30", "1.37")


@dataclass(frozen=True)
class Manifest:
    """One object in one file, with comment lines that say what it is for."""

    file: str
    about: tuple[str, ...]
    document: dict[str, Any]


def object_name(module: Module, suffix: str = "") -> str:
    """`modulith-<module>[-suffix]`: a module name is a Python identifier, an object name a DNS
    label."""
    name = f"modulith-{module.name.replace('_', '-')}"
    return f"{name}-{suffix}" if suffix else name


def selector(module: Module, component: str) -> dict[str, str]:
    """The labels that pick the pods of one role of the module."""
    return {NAME_LABEL: object_name(module), "app.kubernetes.io/component": component}


def labels(module: Module, component: str | None = None) -> dict[str, str]:
    picked = selector(module, component) if component else {NAME_LABEL: object_name(module)}
    return {**picked, "app.kubernetes.io/part-of": "modulith"}


def metadata(module: Module, name: str, component: str | None = None) -> dict[str, Any]:
    return {"name": name, "labels": labels(module, component)}


def environment(topology: Topology, module: Module, options: DeploymentOptions) -> CloudEnvironment:
    """The environment ECS gives the module's containers, with the other services at their
    Service names; a call between services arrives with that name as its Host."""
    urls = {m.name: f"http://{object_name(m)}:{options.port}" for m in topology.modules}
    hosts = f"${{PUBLIC_HOST}},{object_name(module)}"
    env = cloud_environment(topology, module, options, urls=urls, allowed_hosts=hosts)
    variables = env.variables | {
        **https_environment("${PUBLIC_HOST}", "${HSTS_SECONDS}"),
        **tracing_environment(f"http://{COLLECTOR}:4318"),
    }
    return replace(env, variables=variables)


def service_account(module: Module) -> Manifest:
    annotation = {"eks.amazonaws.com/role-arn": f"${{{module.name.upper()}_ROLE_ARN}}"}
    return Manifest(
        "serviceaccount.yaml",
        (
            "The identity of the module's pods. Through IRSA it is the IAM role that lets them",
            "receive from the module's queue and publish its events.",
        ),
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {**metadata(module, object_name(module)), "annotations": annotation},
            # No API token in the pods: they never call the Kubernetes API. (IRSA's web
            # identity token is a volume of its own.)
            "automountServiceAccountToken": False,
        },
    )


def config_map(topology: Topology, module: Module, options: DeploymentOptions) -> Manifest:
    variables = environment(topology, module, options).variables
    return Manifest(
        "configmap.yaml",
        (
            "The module's plain variables (the same as its ECS task definition's), read by every",
            "pod of the module: change it, then `kubectl rollout restart` its Deployments.",
        ),
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": metadata(module, object_name(module)),
            "data": dict(sorted(variables.items())),
        },
    )


def secret_variables(env: CloudEnvironment, module: Module, role: str) -> list[dict[str, Any]]:
    """Each secret variable the role uses, from the Secret that holds it: the module's own (its
    database URLs) or the one every service shares. A missing key stops the pod with the key's
    name."""
    return [
        {
            "name": name,
            "valueFrom": {
                "secretKeyRef": {
                    "name": object_name(module) if name in env.own_secrets else SHARED_SECRET,
                    "key": name,
                }
            },
        }
        for name in sorted(env.secrets_of(module, role))
    ]
