"""The module service's pods: a Deployment for its web role, one for its consumer, and the
Job that migrates its databases once per release; all of the one image, as on ECS."""

from typing import Any

from modulith.http.health import LIVE_PATH, READY_PATH
from modulith.modules import Module, Topology
from modulith.tooling.deployment.k8s_objects import (
    Manifest,
    environment,
    labels,
    metadata,
    object_name,
    secret_variables,
    selector,
)
from modulith.tooling.deployment.options import DeploymentOptions
from modulith.tooling.deployment.service import CONSUMER_STOP_SECONDS

# A Django process of the app holds about 90 MB; the web role is gunicorn's master and two
# workers. Memory is requested as much as its limit, so no pod lives on borrowed memory.
WEB_RESOURCES = {
    "requests": {"cpu": "250m", "memory": "512Mi"},
    "limits": {"cpu": "1", "memory": "512Mi"},
}
ONE_PROCESS_RESOURCES = {
    "requests": {"cpu": "100m", "memory": "256Mi"},
    "limits": {"cpu": "500m", "memory": "256Mi"},
}
# The Service's endpoints and the ALB's targets drop a stopping pod a few seconds after it is
# told to stop: it keeps serving meanwhile, then gunicorn has its 30 s to finish the requests.
DRAIN_SECONDS = 10
WEB_STOP_SECONDS = DRAIN_SECONDS + 30
# The root filesystem is read-only: /tmp holds gunicorn's worker heartbeats, the home its
# control socket. The static files are collected into the image; the databases are elsewhere.
SCRATCH = {"tmp": ("/tmp", "16Mi"), "home": ("/home/app", "1Mi")}


def web_deployment(topology: Topology, module: Module, options: DeploymentOptions) -> Manifest:
    container = {
        **_container(topology, module, options, "web", WEB_RESOURCES),
        "ports": [{"name": "http", "containerPort": options.port, "protocol": "TCP"}],
        "startupProbe": _probe(LIVE_PATH, periodSeconds=5, failureThreshold=12),
        "livenessProbe": _probe(LIVE_PATH, periodSeconds=15, failureThreshold=3),
        "readinessProbe": _probe(READY_PATH, periodSeconds=10, failureThreshold=3),
        "lifecycle": {"preStop": {"exec": {"command": ["sleep", str(DRAIN_SECONDS)]}}},
    }
    return Manifest(
        "web.yaml",
        (
            "The module's web role (gunicorn): the target of the Ingress's path rules and of",
            "the other services' signed internal calls. Alive while it answers /health/live;",
            "ready, and so routed to, while its databases answer /health/ready.",
        ),
        _deployment(module, options, "web", container, WEB_STOP_SECONDS, surge=True),
    )


def consumer_deployment(topology: Topology, module: Module, options: DeploymentOptions) -> Manifest:
    container = _container(topology, module, options, "consume", ONE_PROCESS_RESOURCES)
    return Manifest(
        "consumer.yaml",
        (
            "The module's consumer: long-polls the module's queue and hands each event to its",
            "handlers; several share a queue. It has no probes: it serves no HTTP and keeps no",
            "heartbeat file, and it exits when its polling stops, so the kubelet restarts it;",
            "no Service routes to it, so readiness would gate nothing. SIGTERM lets it finish",
            "the messages in hand, within the grace period (ECS's stopTimeout).",
        ),
        _deployment(module, options, "consumer", container, CONSUMER_STOP_SECONDS, surge=False),
    )


def migration_job(topology: Topology, module: Module, options: DeploymentOptions) -> Manifest:
    container = _container(topology, module, options, "migrate", ONE_PROCESS_RESOURCES)
    pod = {**_pod(module, options, container), "restartPolicy": "Never"}
    return Manifest(
        "migrate.yaml",
        (
            "Migrates the module's databases, once per release, before its Deployments are",
            "updated (their pods do not migrate on start). A Job's pod template cannot change:",
            "delete the previous Job first (it deletes itself an hour after it finishes).",
        ),
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": metadata(module, object_name(module, "migrate"), "migrate"),
            "spec": {
                "backoffLimit": 2,
                "activeDeadlineSeconds": 600,
                "ttlSecondsAfterFinished": 3600,
                "template": {"metadata": {"labels": labels(module, "migrate")}, "spec": pod},
            },
        },
    )


def _deployment(
    module: Module,
    options: DeploymentOptions,
    component: str,
    container: dict[str, Any],
    stop_seconds: int,
    *,
    surge: bool,
) -> dict[str, Any]:
    # No replicas: the autoscaler of the role owns them (k8s_scaling).
    spec: dict[str, Any] = {"selector": {"matchLabels": selector(module, component)}}
    if surge:  # a new pod is ready before an old one stops: the web keeps its capacity
        spec["strategy"] = {"rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    pod = {
        **_pod(module, options, container),
        "terminationGracePeriodSeconds": stop_seconds,
        "topologySpreadConstraints": [
            {
                "maxSkew": 1,
                "topologyKey": key,
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {"matchLabels": selector(module, component)},
            }
            for key in ("topology.kubernetes.io/zone", "kubernetes.io/hostname")
        ],
    }
    spec["template"] = {"metadata": {"labels": labels(module, component)}, "spec": pod}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(module, object_name(module, component), component),
        "spec": spec,
    }


def _pod(module: Module, options: DeploymentOptions, container: dict[str, Any]) -> dict[str, Any]:
    return {
        "serviceAccountName": object_name(module),
        "automountServiceAccountToken": False,
        # The other Services' addresses as variables would crowd the environment (and the
        # app's MODULITH_ names): the services find each other by DNS.
        "enableServiceLinks": False,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": options.run_as_user,
            "runAsGroup": options.run_as_user,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [container],
        "volumes": [
            {"name": name, "emptyDir": {"sizeLimit": size}} for name, (_, size) in SCRATCH.items()
        ],
    }


def _container(
    topology: Topology,
    module: Module,
    options: DeploymentOptions,
    role: str,
    resources: dict[str, Any],
) -> dict[str, Any]:
    """The image's entrypoint with the role as its argument (`args` is the image's CMD)."""
    env = environment(topology, module, options)
    return {
        "name": "consumer" if role == "consume" else role,
        "image": "${IMAGE}",
        "args": [role],
        "envFrom": [{"configMapRef": {"name": object_name(module)}}],
        "env": secret_variables(env, module, role),
        "resources": resources,
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [{"name": name, "mountPath": path} for name, (path, _) in SCRATCH.items()],
    }


def _probe(path: str, **timing: int) -> dict[str, Any]:
    return {"httpGet": {"path": path, "port": "http"}, "timeoutSeconds": 5, **timing}
