"""The providers a test gives a scenario in place of the modules it leaves out: each answers a
port that a module of the scenario uses, whose own provider is absent, with every method of
the port. A provider is a plain object implementing the port, not a mock."""

from collections.abc import Mapping
from typing import Any, Generic, Protocol

from modulith.modules import Topology
from modulith.modules.errors import ConfigurationError


def check_providers(topology: Topology, providers: Mapping[type[Any], object]) -> None:
    for port, provider in providers.items():
        _check_given(topology, port, provider)
    for module in topology.running_modules:
        for port in module.uses:
            owner = topology.provider_of(port)[0].name
            if not topology.is_running(owner) and port not in providers:
                raise ConfigurationError(
                    f"{module.name} uses {port.__name__}, provided by {owner}, which is absent "
                    f"from this scenario: give it a provider of its own, e.g. "
                    f"module_scenario({module.name!r}, providers={{{port.__name__}: ...}})"
                )


def _check_given(topology: Topology, port: type[Any], provider: object) -> None:
    owner = topology.provider_of(port)[0].name
    if topology.is_running(owner):
        raise ConfigurationError(
            f"{port.__name__} is provided by {owner}, which runs in this scenario: its own "
            "provider answers; leave it out of providers"
        )
    if not any(port in module.uses for module in topology.running_modules):
        raise ConfigurationError(
            f"no module of this scenario uses {port.__name__}: leave it out of providers"
        )
    missing = [name for name in _methods(port) if not callable(getattr(provider, name, None))]
    if missing:
        raise ConfigurationError(
            f"{type(provider).__name__} does not implement {port.__name__}: it has no "
            f"{', '.join(missing)}"
        )


def _methods(port: type[Any]) -> list[str]:
    """The public methods a port declares, its own and those of the ports it extends."""
    return sorted(
        {
            name
            for klass in port.__mro__
            if klass not in (object, Protocol, Generic)
            for name, value in vars(klass).items()
            if callable(value) and not name.startswith("_")
        }
    )
