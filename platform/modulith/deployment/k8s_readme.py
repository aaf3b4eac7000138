"""`k8s/README.md`: what each manifest is, the Secrets they read, how a release applies them,
and the placeholders they hold."""

from collections.abc import Iterable, Mapping

from modulith.deployment.k8s_collector import COLLECTOR_DIRECTORY, collector_manifests
from modulith.deployment.k8s_objects import (
    KUBERNETES_VERSIONS,
    SHARED_SECRET,
    Manifest,
    environment,
    object_name,
)
from modulith.deployment.options import DeploymentOptions
from modulith.deployment.service import GENERATED, placeholders
from modulith.modules import Topology


def k8s_readme(
    topology: Topology,
    options: DeploymentOptions,
    manifests: Mapping[str, list[Manifest]],
    texts: Iterable[str],
) -> str:
    first = topology.modules[0]
    return "\n".join(
        [
            "# Kubernetes manifests (EKS)",
            "",
            f"<!-- {GENERATED}; a test compares them. -->",
            "",
            "One directory per module service "
            f"({', '.join(f'`{name}/`' for name in manifests)}), all of the one image, with the",
            "environment, secrets and roles of the ECS task definitions. Each file holds one",
            "object and says what it is for:",
            "",
            *_files(manifests[first.name]),
            "",
            "A module that handles no event has no `consumer*.yaml`; one with no public API, no",
            "`ingress.yaml`. Every pod runs as the image's user "
            f"{options.run_as_user}, with a read-only root",
            "filesystem, no capabilities, no privilege escalation and the RuntimeDefault seccomp",
            "profile (the `restricted` Pod Security Standard), and without a Kubernetes API",
            "token (`automountServiceAccountToken: false`; IRSA's token is a volume of its own).",
            "The NetworkPolicies let no one reach a module's pods but the ALB (from",
            "`LOAD_BALANCER_CIDR`) and the modules that call its query port, to the web's port,",
            "and the scraper's namespace (`METRICS_NAMESPACE`; the ALB routes no `/metrics`).",
            "The web scales on CPU (a HorizontalPodAutoscaler); the consumer on its queue's",
            "depth with KEDA's `aws-sqs-queue` scaler (KEDA installed in the cluster), which",
            "reads the queue with the consumer pods' own role; neither Deployment sets",
            "`replicas`, which the autoscalers own. Spans go to the ADOT collector in",
            f"`{COLLECTOR_DIRECTORY}/` (apply it once), which sends them to X-Ray. A test",
            "validates every file against the Kubernetes API schemas of "
            f"{' and '.join(KUBERNETES_VERSIONS)} (unknown fields are errors), and the KEDA",
            "objects against KEDA's own schema.",
            "",
            "The services share one namespace: they call each other by their Services' short",
            "names. The cluster needs the AWS Load Balancer Controller (the `alb` IngressClass)",
            "and an IAM OIDC provider for IRSA. Label the namespace",
            "`elbv2.k8s.aws/pod-readiness-gate-inject=enabled`, so that a rollout waits until",
            "the new pods are healthy targets of the ALB.",
            "",
            "## Secrets",
            "",
            "The manifests read them but do not hold them. Create them in the namespace, or sync",
            "them from the Secrets Manager secrets the ECS tasks read (with the External Secrets",
            "Operator, say), under these keys:",
            "",
            "```sh",
            *_secrets(topology, options),
            "```",
            "",
            "## A release",
            "",
            "Render each file with the placeholders set, migrate, then roll out; per module:",
            "",
            "```sh",
            'render() { for f in "$@"; do envsubst < "deploy/k8s/$f"; echo ---; done; }',
            "",
            "# once: the trace pipeline every module service shares",
            "render "
            + " ".join(f"{COLLECTOR_DIRECTORY}/{m.file}" for m in collector_manifests(options))
            + " | kubectl apply -f -",
            "",
            *_release(manifests),
            "```",
            "",
            "## Placeholders",
            "",
            *[f"- `${{{name}}}`" for name in placeholders(texts)],
            "",
            "- `PUBLIC_HOST`: the public host name, the Ingress's host and the first of",
            "  `DJANGO_ALLOWED_HOSTS` (the others: the service's own Service name, the Host of",
            f"  the internal calls it answers, e.g. `{object_name(first)}`).",
            "- `CERTIFICATE_ARN`: the ACM certificate of that host name, for the ALB's HTTPS",
            "  listener (HTTP redirects to it).",
            "- `LOAD_BALANCER_CIDR`: the addresses of the ALB's subnets (its nodes connect to the",
            "  pods); `METRICS_NAMESPACE`: the namespace of the Prometheus that scrapes /metrics.",
            "- `HSTS_SECONDS`: Strict-Transport-Security's max-age (3600 first, a year once HTTPS",
            "  is known to work); `AWS_ACCOUNT_ID` and `AWS_REGION`: the queues' account and",
            "  region, for KEDA.",
            "- `COLLECTOR_ROLE_ARN`: the collector's IAM role, with `AWSXRayDaemonWriteAccess`.",
            "- `*_ROLE_ARN`: the module's IAM role, trusting the cluster's OIDC provider for",
            f"  `system:serviceaccount:<namespace>:{object_name(first)}` (and so on), with the",
            "  permissions of the ECS task role: the module's own queue (`sqs:ReceiveMessage`,",
            "  `DeleteMessage`, `ChangeMessageVisibility`, `GetQueueUrl`) and publishing",
            "  (`events:PutEvents` with the module's own `events:source`, `<module>.service`, and",
            "  its own `events:detail-type`s; with the sqs transport, `sqs:SendMessage` to the",
            "  subscribers' queues; with sns its own topic).",
            "",
        ]
    )


def _files(manifests: list[Manifest]) -> list[str]:
    rows = ["| file | kind | what it is for |", "|---|---|---|"]
    for manifest in manifests:
        first_sentence = " ".join(manifest.about).split(". ")[0].rstrip(".")
        rows.append(f"| `{manifest.file}` | {manifest.document['kind']} | {first_sentence} |")
    return rows


def _secrets(topology: Topology, options: DeploymentOptions) -> list[str]:
    environments = [(m, environment(topology, m, options)) for m in topology.modules]
    shared = sorted({name for _, env in environments for name in env.shared_secrets})
    lines = [_create_secret(SHARED_SECRET, shared)]
    lines += [_create_secret(object_name(m), env.own_secrets) for m, env in environments]
    return lines


def _create_secret(name: str, keys: Iterable[str]) -> str:
    literals = " ".join(f"--from-literal={key}=..." for key in keys)
    return f"kubectl create secret generic {name} {literals}"


def _release(manifests: Mapping[str, list[Manifest]]) -> list[str]:
    """What comes before the migration Job, the Job, then the rest, in the manifests' order."""
    lines: list[str] = []
    for name, found in manifests.items():
        at = [m.document["kind"] for m in found].index("Job")
        files = [f"{name}/{m.file}" for m in found]
        job = found[at].document["metadata"]["name"]
        lines += [
            f"render {' '.join(files[:at])} | kubectl apply -f -",
            f"kubectl delete job {job} --ignore-not-found",
            f"render {files[at]} | kubectl apply -f -",
            f"kubectl wait --for=condition=complete --timeout=10m job/{job}",
            f"render {' '.join(files[at + 1 :])} | kubectl apply -f -",
            "",
        ]
    return lines[:-1]
