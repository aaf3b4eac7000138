"""The module model: a module's manifest and the topology of all of them (`topology`), the
errors modules raise (`errors`), the system checks of what manifests name (`checks`), and the
module map drawn from them (`map`)."""

from modulith.modules.topology import Handler, Module, Topology

__all__ = ["Handler", "Module", "Topology"]
