"""How a module service's pods scale on Kubernetes: the web on CPU (a HorizontalPodAutoscaler),
the consumer on its queue's depth (KEDA's `aws-sqs-queue` scaler, through a ScaledObject,
reading the queue with the pods' own IAM role)."""

from modulith.modules import Module
from modulith.tooling.deployment.k8s_objects import Manifest, metadata, object_name
from modulith.tooling.deployment.options import DeploymentOptions

CPU_TARGET_PERCENT = 60
MAX_REPLICAS = 10
# Messages waiting per consumer pod that KEDA keeps: the latency accepted over the time one
# message takes (as BacklogPerTask on ECS).
BACKLOG_PER_POD = 100


def web_autoscaler(module: Module, options: DeploymentOptions) -> Manifest:
    return Manifest(
        "web-autoscaler.yaml",
        (
            f"Scales the web pods on CPU ({CPU_TARGET_PERCENT}% of their request), from "
            f"{options.replicas} to {MAX_REPLICAS}. It owns the Deployment's replicas.",
        ),
        {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": metadata(module, object_name(module, "web"), "web"),
            "spec": {
                "scaleTargetRef": {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "name": object_name(module, "web"),
                },
                "minReplicas": options.replicas,
                "maxReplicas": MAX_REPLICAS,
                "metrics": [
                    {
                        "type": "Resource",
                        "resource": {
                            "name": "cpu",
                            "target": {
                                "type": "Utilization",
                                "averageUtilization": CPU_TARGET_PERCENT,
                            },
                        },
                    }
                ],
            },
        },
    )


def consumer_scaler(module: Module, options: DeploymentOptions) -> Manifest:
    queue = options.names.queue(module.name)
    return Manifest(
        "consumer-scaler.yaml",
        (
            "Scales the consumer pods on the depth of the module's queue (KEDA's aws-sqs-queue",
            f"scaler): one pod for every {BACKLOG_PER_POD} messages waiting, from 1 to "
            f"{MAX_REPLICAS}. It owns the Deployment's replicas.",
        ),
        {
            "apiVersion": "keda.sh/v1alpha1",
            "kind": "ScaledObject",
            "metadata": metadata(module, object_name(module, "consumer"), "consumer"),
            "spec": {
                "scaleTargetRef": {"name": object_name(module, "consumer")},
                "minReplicaCount": 1,
                "maxReplicaCount": MAX_REPLICAS,
                "pollingInterval": 15,
                "cooldownPeriod": 300,
                "triggers": [
                    {
                        "type": "aws-sqs-queue",
                        "authenticationRef": {"name": object_name(module, "queue")},
                        "metadata": {
                            "queueURL": "https://sqs.${AWS_REGION}.amazonaws.com/"
                            f"${{AWS_ACCOUNT_ID}}/{queue}",
                            "queueLength": str(BACKLOG_PER_POD),
                            "awsRegion": "${AWS_REGION}",
                            # Only the visible messages: those in flight have a consumer.
                            "scaleOnInFlight": "false",
                        },
                    }
                ],
            },
        },
    )


def queue_authentication(module: Module) -> Manifest:
    return Manifest(
        "consumer-scaler-auth.yaml",
        (
            "How KEDA reads the queue's depth: with the IAM role of the consumer pods' service",
            "account (IRSA), which may read the module's own queue and nothing else.",
        ),
        {
            "apiVersion": "keda.sh/v1alpha1",
            "kind": "TriggerAuthentication",
            "metadata": metadata(module, object_name(module, "queue"), "consumer"),
            "spec": {"podIdentity": {"provider": "aws", "identityOwner": "workload"}},
        },
    )
