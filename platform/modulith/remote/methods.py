"""Moved to `modulith.ports.remote.methods`: this path keeps working, with a DeprecationWarning."""

from modulith.conf.moved import moved
from modulith.ports.remote.methods import (
    PortMethod,
    port_methods,
    public_methods,
)

__all__ = [
    "PortMethod",
    "port_methods",
    "public_methods",
]

moved("modulith.remote.methods", "modulith.ports.remote.methods")
