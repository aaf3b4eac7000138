"""How requests reach a module service on Kubernetes: its Service (the address the other
services call) and its Ingress (its share of the one ALB's path rules, through the AWS Load
Balancer Controller)."""

import json

from modulith.http.health import READY_PATH
from modulith.modules import Module
from modulith.tooling.deployment.front_door import PathRule
from modulith.tooling.deployment.k8s_objects import Manifest, metadata, object_name, selector
from modulith.tooling.deployment.options import DeploymentOptions

INGRESS_GROUP = "modulith"  # every service's Ingress joins this group: one ALB for all
# Set alike on every Ingress of the group, as the controller wants of these annotations.
ALB = "alb.ingress.kubernetes.io"
ALB_ANNOTATIONS = {
    f"{ALB}/group.name": INGRESS_GROUP,
    f"{ALB}/scheme": "internet-facing",
    f"{ALB}/listen-ports": json.dumps([{"HTTP": 80}, {"HTTPS": 443}]),
    f"{ALB}/ssl-redirect": "443",
    f"{ALB}/certificate-arn": "${CERTIFICATE_ARN}",
    # The pods are the targets (no node ports); a pod whose databases do not answer is none.
    f"{ALB}/target-type": "ip",
    f"{ALB}/healthcheck-path": READY_PATH,
    f"{ALB}/success-codes": "200",
    # Longer than a stopping pod's drain, shorter than the 300 s default that slows rollouts.
    f"{ALB}/target-group-attributes": "deregistration_delay.timeout_seconds=30",
}


def service(module: Module, options: DeploymentOptions) -> Manifest:
    return Manifest(
        "service.yaml",
        (
            f"The address of the module's web pods: `http://{object_name(module)}:{options.port}`",
            "for the other services' signed internal calls, and the Ingress's backend.",
        ),
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": metadata(module, object_name(module)),
            "spec": {
                "type": "ClusterIP",
                "selector": selector(module, "web"),
                "ports": [
                    {"name": "http", "port": options.port, "targetPort": "http", "protocol": "TCP"}
                ],
            },
        },
    )


def ingress(module: Module, rules: list[PathRule]) -> Manifest:
    """The front door's rules that lead to this module's service; a request no Ingress of the
    group routes (/internal/, /health/, /metrics, anything else) the ALB answers with 404."""
    backend = {"service": {"name": object_name(module), "port": {"name": "http"}}}
    paths = [
        {"path": rule.path, "pathType": "Prefix" if rule.prefix else "Exact", "backend": backend}
        for rule in rules
    ]
    return Manifest(
        "ingress.yaml",
        (
            "The module's path rules on the one ALB every service's Ingress shares (the group",
            f"`{INGRESS_GROUP}`): the same rules as the nginx front door. A Prefix path is",
            "the path and everything under it (`/api/orders`, `/api/orders/*` on the ALB).",
        ),
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": {
                **metadata(module, object_name(module)),
                "annotations": ALB_ANNOTATIONS,
            },
            "spec": {
                "ingressClassName": "alb",
                "rules": [{"host": "${PUBLIC_HOST}", "http": {"paths": paths}}],
            },
        },
    )
