"""Kubernetes manifests (for EKS), one directory per module service, with `${PLACEHOLDERS}` for
what differs between accounts (render with envsubst), as the ECS task definitions have."""

from modulith.modules import Module, Topology
from modulith.tooling.deployment.front_door import front_door_rules
from modulith.tooling.deployment.k8s_collector import COLLECTOR_DIRECTORY, collector_manifests
from modulith.tooling.deployment.k8s_network import isolation, web_access
from modulith.tooling.deployment.k8s_objects import Manifest, config_map, service_account
from modulith.tooling.deployment.k8s_readme import k8s_readme
from modulith.tooling.deployment.k8s_routing import ingress, service
from modulith.tooling.deployment.k8s_scaling import (
    consumer_scaler,
    queue_authentication,
    web_autoscaler,
)
from modulith.tooling.deployment.k8s_workloads import (
    consumer_deployment,
    migration_job,
    web_deployment,
)
from modulith.tooling.deployment.options import DeploymentOptions
from modulith.tooling.deployment.service import GENERATED
from modulith.tooling.deployment.yaml_subset import to_yaml

HEADER = (
    f"# {GENERATED}:",
    "# edit the manifests or the generator, not this file (a test compares them).",
)


def k8s_files(topology: Topology, options: DeploymentOptions) -> dict[str, str]:
    """`k8s/<module>/<object>.yaml` for every module service, and `k8s/README.md`."""
    manifests = {m.name: module_manifests(topology, m, options) for m in topology.modules}
    files = {
        f"k8s/{name}/{manifest.file}": _render(manifest)
        for name, found in manifests.items()
        for manifest in found
    }
    files |= {
        f"k8s/{COLLECTOR_DIRECTORY}/{manifest.file}": _render(manifest)
        for manifest in collector_manifests(options)
    }
    return {**files, "k8s/README.md": k8s_readme(topology, options, manifests, files.values())}


def module_manifests(
    topology: Topology, module: Module, options: DeploymentOptions
) -> list[Manifest]:
    """In the order they are applied: identity and configuration, the migration, the pods and
    their scaling, then the routes to them and who may use them."""
    manifests = [
        service_account(module),
        config_map(topology, module, options),
        migration_job(topology, module, options),
        web_deployment(topology, module, options),
    ]
    manifests.append(web_autoscaler(module, options))
    if module.handles:
        manifests += [
            consumer_deployment(topology, module, options),
            queue_authentication(module),
            consumer_scaler(module, options),
        ]
    manifests += [service(module, options), isolation(module), web_access(topology, module)]
    rules = [rule for rule in front_door_rules(topology) if rule.module == module.name]
    if rules:
        manifests.append(ingress(module, rules))
    return manifests


def _render(manifest: Manifest) -> str:
    about = [f"# {line}" for line in manifest.about]
    return "\n".join([*HEADER, "#", *about, *to_yaml(manifest.document), ""])
