"""The front door's path rules, whichever front door carries them (nginx, an ALB's listener
rules through an Ingress): each module's public API to the service that runs it, the API docs
and their static files to the first module's service, and nothing else, so `/internal/`,
`/health/` and `/metrics` are never exposed."""

from dataclasses import dataclass

from modulith.modules import Topology


@dataclass(frozen=True)
class PathRule:
    """`path` and every path below it (`prefix`), or `path` alone, to `module`'s service."""

    path: str
    module: str
    prefix: bool


def front_door_rules(topology: Topology) -> list[PathRule]:
    routed = [m.name for m in topology.modules if m.api]
    rules = [PathRule(f"/api/{name}", name, prefix=True) for name in routed]
    if routed:
        docs = routed[0]
        rules += [
            PathRule("/api/docs", docs, prefix=False),
            PathRule("/api/openapi.json", docs, prefix=False),
            PathRule("/static", docs, prefix=True),
        ]
    return rules
