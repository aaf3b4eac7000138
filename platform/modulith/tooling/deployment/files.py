"""Every file of the chosen formats, by path relative to the output directory."""

import json
from collections.abc import Iterable

from modulith.modules import Topology
from modulith.tooling.deployment.compose import compose_file
from modulith.tooling.deployment.ecs import module_template
from modulith.tooling.deployment.ecs_readme import ecs_readme
from modulith.tooling.deployment.ecs_shared import shared_template
from modulith.tooling.deployment.k8s import k8s_files
from modulith.tooling.deployment.lambda_readme import lambda_readme
from modulith.tooling.deployment.lambda_stack import lambda_functions, lambda_template
from modulith.tooling.deployment.nginx import front_door_routes
from modulith.tooling.deployment.options import DeploymentOptions
from modulith.tooling.deployment.release import ecs_release_script, lambda_release_script
from modulith.tooling.deployment.service import GENERATED

# Every format, in the order `manage.py deployment --format all` writes them.
FORMATS = ("compose", "ecs", "k8s", "lambda")


def deployment_files(
    topology: Topology,
    options: DeploymentOptions,
    formats: Iterable[str] = FORMATS,
) -> dict[str, str]:
    """Relative path -> content of every file of the chosen formats."""
    options = options.for_topology(topology)
    files: dict[str, str] = {}
    if "compose" in formats:
        files["compose.yaml"] = compose_file(topology, options)
        files["nginx.conf"] = _compose_front_door(topology, options)
    if "ecs" in formats:
        files.update(_ecs_files(topology, options))
    if "k8s" in formats:
        files.update(k8s_files(topology, options))
    if "lambda" in formats:
        files.update(_lambda_files(topology, options))
    return files


def _compose_front_door(topology: Topology, options: DeploymentOptions) -> str:
    upstreams = {m.name: f"{m.name}:{options.port}" for m in topology.modules}
    routes = front_door_routes(topology, upstreams, listen=str(options.front_door_port))
    return f"# {GENERATED}.\n# The front door of compose.yaml.\n{routes}"


def _ecs_files(topology: Topology, options: DeploymentOptions) -> dict[str, str]:
    stacks = {"ecs/shared.json": _json(shared_template(topology, options))}
    stacks |= {
        f"ecs/{m.name}.json": _json(module_template(topology, m, options, index))
        for index, m in enumerate(topology.modules)
    }
    scripts = {
        f"ecs/release-{m.name}.sh": ecs_release_script(
            m, options.queue_prefix, web_tasks=options.replicas
        )
        for m in topology.modules
    }
    return {**stacks, **scripts, "ecs/README.md": ecs_readme(topology, options)}


def _json(document: object) -> str:
    return json.dumps(document, indent=2) + "\n"


def _lambda_files(topology: Topology, options: DeploymentOptions) -> dict[str, str]:
    templates = {
        f"lambda/{m.name}.json": _json(lambda_template(topology, m, options))
        for m in topology.modules
    }
    scripts = {
        f"lambda/release-{m.name}.sh": lambda_release_script(
            m, options.queue_prefix, lambda_functions(m)
        )
        for m in topology.modules
    }
    return {**templates, **scripts, "lambda/README.md": lambda_readme(topology)}
