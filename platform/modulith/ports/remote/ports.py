"""Building remote query ports for the providers that do not run in this process."""

from dataclasses import dataclass, field
from typing import Any

import httpx

from modulith.modules import Module, Topology
from modulith.ports.remote.breaker import CircuitBreaker
from modulith.ports.remote.client import RemoteCaller, remote_port
from modulith.ports.remote.discovery import Discovery
from modulith.ports.remote.signing import Signer


@dataclass
class RemotePorts:
    topology: Topology
    discovery: Discovery
    signer: Signer
    http: httpx.Client
    attempts: int = 3
    breaker_reset_seconds: float = 10.0
    _breakers: dict[str, CircuitBreaker] = field(default_factory=dict)

    def build(self, port: type[Any], provider: Module) -> Any:
        breaker = self._breakers.setdefault(
            provider.name, CircuitBreaker(reset_seconds=self.breaker_reset_seconds)
        )
        caller = RemoteCaller(
            provider=provider.name,
            caller=self._caller(port),
            discovery=self.discovery,
            signer=self.signer,
            http=self.http,
            breaker=breaker,
            attempts=self.attempts,
        )
        return remote_port(port, caller)

    def _caller(self, port: type[Any]) -> str:
        users = [m.name for m in self.topology.running_modules if port in m.uses]
        return ",".join(users) or "unknown"
