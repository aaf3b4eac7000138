"""Query ports: the implementation of a port for this deployment (`local`: the provider's own
class when it runs here), and clients of providers that run in other services (`remote`)."""

from modulith.ports.local import PortResolver, RemoteFactory, query_port

__all__ = ["PortResolver", "RemoteFactory", "query_port"]
