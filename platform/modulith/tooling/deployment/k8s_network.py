"""Who may reach a module service's pods: no one, but the load balancer and the modules that
call the module's query port (to the web's port), and the metrics scraper's namespace; the
consumer and the migration take no connection at all."""

from modulith.modules import Module, Topology
from modulith.tooling.deployment.k8s_objects import (
    NAME_LABEL,
    Manifest,
    metadata,
    object_name,
    selector,
)


def isolation(module: Module) -> Manifest:
    return Manifest(
        "network-isolation.yaml",
        (
            "Every pod of the module takes no connection (its consumer and migration serve",
            "nothing); network-web.yaml then opens the web's port to whom it serves.",
        ),
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": metadata(module, object_name(module, "isolation")),
            "spec": {
                "podSelector": {"matchLabels": {NAME_LABEL: object_name(module)}},
                "policyTypes": ["Ingress"],
            },
        },
    )


def web_access(topology: Topology, module: Module) -> Manifest:
    """The ALB (its nodes' addresses: ip targets take connections from the load balancer
    itself, not from the controller's pods), the pods of the modules that use this module's
    query port (their signed internal calls), and the scraper's namespace (for /metrics: the
    ALB routes no such path, so only the scraper reaches it)."""
    callers = sorted(
        user.name
        for user in topology.modules
        if any(topology.provider_of(port)[0].name == module.name for port in user.uses)
    )
    port = [{"protocol": "TCP", "port": "http"}]
    sources: list[dict[str, object]] = [
        {"from": [{"ipBlock": {"cidr": "${LOAD_BALANCER_CIDR}"}}], "ports": port},
        {
            "from": [
                {
                    "namespaceSelector": {
                        "matchLabels": {"kubernetes.io/metadata.name": "${METRICS_NAMESPACE}"}
                    }
                }
            ],
            "ports": port,
        },
    ]
    if callers:
        sources.append(
            {
                "from": [
                    {
                        "podSelector": {
                            "matchExpressions": [
                                {
                                    "key": NAME_LABEL,
                                    "operator": "In",
                                    "values": [
                                        f"modulith-{name.replace('_', '-')}" for name in callers
                                    ],
                                }
                            ]
                        }
                    }
                ],
                "ports": port,
            }
        )
    return Manifest(
        "network-web.yaml",
        (
            "The web pods take connections on their port from the ALB, from the pods of the",
            f"modules that call its query port ({', '.join(callers) or 'none'}), and from the",
            "metrics scraper's namespace; nothing else.",
        ),
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": metadata(module, object_name(module, "web"), "web"),
            "spec": {
                "podSelector": {"matchLabels": selector(module, "web")},
                "policyTypes": ["Ingress"],
                "ingress": sources,
            },
        },
    )
