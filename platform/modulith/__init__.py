"""modulith: modules that share nothing but contracts, and split off by configuration.

A module author's names, in one place:

    from modulith import Event, Handler, Module, PermanentFailure, atomic, publish, query_port
    from modulith import aatomic, apublish  # the same, for async views and handlers
    from modulith import cancel_scheduled  # a scheduled event, before a relay claims it
    from modulith import acancel_scheduled  # the same, for async code

They are exported lazily (kombu's way), so that importing `modulith` stays cheap and works
before Django is set up (module manifests and settings import it); a name that touches the
database is imported from its package when first used, once apps are ready. The test harness's
are `modulith.testing`'s (`from modulith.testing import Scenario`).
"""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from modulith.bus import (
        DependencyUnavailable,
        Envelope,
        EventTooLarge,
        PermanentFailure,
        aatomic,
        acancel_scheduled,
        apublish,
        atomic,
        cancel_scheduled,
        current_envelope,
        publish,
    )
    from modulith.contracts import ContractModel, Event, ProviderError, ProviderUnavailable
    from modulith.modules import Handler, Module
    from modulith.modules.errors import (
        ConfigurationError,
        Conflict,
        DomainError,
        InvalidInput,
        NotFound,
    )
    from modulith.ports import query_port

# Each public name, and the package it lives in.
_EXPORTS = {
    "Handler": "modulith.modules",
    "Module": "modulith.modules",
    "ConfigurationError": "modulith.modules.errors",
    "Conflict": "modulith.modules.errors",
    "DomainError": "modulith.modules.errors",
    "InvalidInput": "modulith.modules.errors",
    "NotFound": "modulith.modules.errors",
    "ContractModel": "modulith.contracts",
    "Event": "modulith.contracts",
    "ProviderError": "modulith.contracts",
    "ProviderUnavailable": "modulith.contracts",
    "DependencyUnavailable": "modulith.bus",
    "Envelope": "modulith.bus",
    "EventTooLarge": "modulith.bus",
    "PermanentFailure": "modulith.bus",
    "aatomic": "modulith.bus",
    "acancel_scheduled": "modulith.bus",
    "apublish": "modulith.bus",
    "atomic": "modulith.bus",
    "cancel_scheduled": "modulith.bus",
    "current_envelope": "modulith.bus",
    "publish": "modulith.bus",
    "query_port": "modulith.ports",
}

__all__ = [
    "ConfigurationError",
    "Conflict",
    "ContractModel",
    "DependencyUnavailable",
    "DomainError",
    "Envelope",
    "Event",
    "EventTooLarge",
    "Handler",
    "InvalidInput",
    "Module",
    "NotFound",
    "PermanentFailure",
    "ProviderError",
    "ProviderUnavailable",
    "aatomic",
    "acancel_scheduled",
    "apublish",
    "atomic",
    "cancel_scheduled",
    "current_envelope",
    "publish",
    "query_port",
]


def __getattr__(name: str) -> Any:
    package = _EXPORTS.get(name)
    if package is None:
        raise AttributeError(f"module 'modulith' has no attribute {name!r}")
    value = getattr(importlib.import_module(package), name)
    globals()[name] = value  # looked up once
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
