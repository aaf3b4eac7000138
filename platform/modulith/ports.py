"""Query ports: a module asks another a question through a Protocol from `contracts/`."""

from typing import Any, TypeVar, cast

from django.utils.module_loading import import_string

from modulith.errors import ConfigurationError
from modulith.modules import Topology
from modulith.runtime import runtime

Port = TypeVar("Port")


class PortResolver:
    """Gives the local implementation of a port when its provider runs in this process."""

    def __init__(self, topology: Topology) -> None:
        self.topology = topology
        self._resolved: dict[type[Any], Any] = {}

    def resolve(self, port: type[Port]) -> Port:
        if port not in self._resolved:
            self._resolved[port] = self._build(port)
        return cast(Port, self._resolved[port])

    def _build(self, port: type[Any]) -> Any:
        provider, implementation = self.topology.provider_of(port)
        if not self.topology.is_running(provider.name):
            raise ConfigurationError(
                f"{port.__name__} is provided by {provider.name}, which does not run here"
            )
        return import_string(implementation)()


def query_port(port: type[Port]) -> Port:
    """The implementation of `port` for this deployment."""
    return runtime().ports.resolve(port)
