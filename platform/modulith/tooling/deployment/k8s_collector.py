"""The trace pipeline on Kubernetes: the AWS Distro for OpenTelemetry collector, one Deployment
the module services share, taking their spans over OTLP and sending them to X-Ray with an IAM
role of its own (IRSA, AWSXRayDaemonWriteAccess); files `k8s/otel-collector/*.yaml`."""

from typing import Any

from modulith.tooling.deployment.k8s_objects import COLLECTOR, Manifest
from modulith.tooling.deployment.options import DeploymentOptions
from modulith.tooling.deployment.yaml_subset import to_yaml

COLLECTOR_DIRECTORY = "otel-collector"
LABELS = {"app.kubernetes.io/name": COLLECTOR, "app.kubernetes.io/part-of": "modulith"}
OTLP_HTTP = 4318
OTLP_GRPC = 4317
CONFIG = {
    "receivers": {
        "otlp": {
            "protocols": {
                "http": {"endpoint": f"0.0.0.0:{OTLP_HTTP}"},
                "grpc": {"endpoint": f"0.0.0.0:{OTLP_GRPC}"},
            }
        }
    },
    "processors": {"batch": {"timeout": "5s"}},
    "exporters": {"awsxray": {"region": "${AWS_REGION}"}},
    "service": {
        "pipelines": {
            "traces": {"receivers": ["otlp"], "processors": ["batch"], "exporters": ["awsxray"]}
        }
    },
}


def collector_manifests(options: DeploymentOptions) -> list[Manifest]:
    meta = {"name": COLLECTOR, "labels": LABELS}
    return [
        Manifest(
            "serviceaccount.yaml",
            ("The collector's identity: through IRSA, a role with AWSXRayDaemonWriteAccess.",),
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {
                    **meta,
                    "annotations": {"eks.amazonaws.com/role-arn": "${COLLECTOR_ROLE_ARN}"},
                },
                "automountServiceAccountToken": False,
            },
        ),
        Manifest(
            "configmap.yaml",
            ("The collector's pipeline: OTLP in, batched, X-Ray out.",),
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": meta,
                "data": {"collector.yaml": "\n".join(to_yaml(CONFIG)) + "\n"},
            },
        ),
        Manifest("deployment.yaml", ("The collector, two pods.",), _deployment(options, meta)),
        Manifest(
            "service.yaml",
            (f"Where the module services send their spans: http://{COLLECTOR}:{OTLP_HTTP}.",),
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": meta,
                "spec": {
                    "type": "ClusterIP",
                    "selector": LABELS,
                    "ports": [
                        {"name": "otlp-http", "port": OTLP_HTTP, "targetPort": "otlp-http"},
                        {"name": "otlp-grpc", "port": OTLP_GRPC, "targetPort": "otlp-grpc"},
                    ],
                },
            },
        ),
        Manifest(
            "network.yaml",
            ("Only the module services' pods reach the collector, on its OTLP ports.",),
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "NetworkPolicy",
                "metadata": meta,
                "spec": {
                    "podSelector": {"matchLabels": LABELS},
                    "policyTypes": ["Ingress"],
                    "ingress": [
                        {
                            "from": [
                                {
                                    "podSelector": {
                                        "matchLabels": {"app.kubernetes.io/part-of": "modulith"}
                                    }
                                }
                            ],
                            "ports": [
                                {"protocol": "TCP", "port": OTLP_HTTP},
                                {"protocol": "TCP", "port": OTLP_GRPC},
                            ],
                        }
                    ],
                },
            },
        ),
    ]


def _deployment(options: DeploymentOptions, meta: dict[str, Any]) -> dict[str, Any]:
    container = {
        "name": "collector",
        "image": options.collector_image,
        "args": ["--config=/etc/collector/collector.yaml"],
        "ports": [
            {"name": "otlp-http", "containerPort": OTLP_HTTP, "protocol": "TCP"},
            {"name": "otlp-grpc", "containerPort": OTLP_GRPC, "protocol": "TCP"},
        ],
        "env": [{"name": "AWS_REGION", "value": "${AWS_REGION}"}],
        "resources": {
            "requests": {"cpu": "100m", "memory": "256Mi"},
            "limits": {"cpu": "500m", "memory": "256Mi"},
        },
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [{"name": "config", "mountPath": "/etc/collector", "readOnly": True}],
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta,
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": LABELS},
            "template": {
                "metadata": {"labels": LABELS},
                "spec": {
                    "serviceAccountName": COLLECTOR,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": options.run_as_user,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [container],
                    "volumes": [{"name": "config", "configMap": {"name": COLLECTOR}}],
                },
            },
        },
    }
