"""Query ports: a module asks another a question through a Protocol from `contracts/`."""

from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeVar, cast

from django.utils.module_loading import import_string

from modulith.conf.installed import INSTALLED
from modulith.modules import Module, Topology
from modulith.modules.errors import ConfigurationError

Port = TypeVar("Port")
RemoteFactory = Callable[[type[Any], Module], Any]


class PortResolver:
    """The local implementation of a port when its provider runs in this process, else a
    remote client of the provider's service; `providers` answer ports in their place (a test
    harness's own, for modules it leaves out)."""

    def __init__(
        self,
        topology: Topology,
        remote: RemoteFactory | None = None,
        providers: Mapping[type[Any], Any] | None = None,
    ) -> None:
        self.topology = topology
        self.remote = remote
        self._resolved: dict[type[Any], Any] = dict(providers or {})

    def resolve(self, port: type[Port]) -> Port:
        if port not in self._resolved:
            self._resolved[port] = self._build(port)
        return cast(Port, self._resolved[port])

    def _build(self, port: type[Any]) -> Any:
        provider, implementation = self.topology.provider_of(port)
        if self.topology.is_running(provider.name):
            return import_string(implementation)()
        if self.remote is None:
            raise ConfigurationError(
                f"{port.__name__} is provided by {provider.name}, which does not run here, "
                "and no remote calls are configured"
            )
        return self.remote(port, provider)


class _Resolving(Protocol):
    """What a query port reads of the runtime this process installed."""

    @property
    def ports(self) -> PortResolver: ...


def query_port(port: type[Port]) -> Port:
    """The implementation of `port` for this deployment."""
    current: _Resolving = INSTALLED.runtime
    return current.ports.resolve(port)
