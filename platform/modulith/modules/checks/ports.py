"""modulith.E003, E004: a provider implements every method of its port, with the port's
parameters. Callers in other modules may call any of them, remotely by parameter name, so a
missing or renamed one would fail only on the first call."""

import inspect
from typing import Any

from django.core.checks import CheckMessage, Error

from modulith.modules import Module
from modulith.modules.checks.imports import plain, signature_of
from modulith.ports.remote.methods import public_methods


def port_errors(
    module: Module, port: type[Any], path: str, provider: type[Any]
) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    provided = f"{module.name} provides {port.__name__} with {path}"
    for name, method in public_methods(port).items():
        expected = inspect.signature(method)
        implementation = getattr(provider, name, None)
        if not callable(implementation):
            errors.append(
                Error(
                    f"{provided}, which has no method {name}{plain(expected)}",
                    hint=f"Implement {port.__name__}.{name}{plain(expected)} in {path}.",
                    obj=module.name,
                    id="modulith.E003",
                )
            )
            continue
        actual = signature_of(implementation)
        if actual is None or _shape(actual) != _shape(expected):
            shown = plain(actual) if actual else "(...)"
            errors.append(
                Error(
                    f"{provided}, whose {name}{shown} is not the port's {name}{plain(expected)}",
                    hint=(
                        f"Give {name} the port's parameters: the same names, kinds and defaults "
                        "(a remote caller passes them by name)."
                    ),
                    obj=module.name,
                    id="modulith.E004",
                )
            )
    return errors


def _shape(signature: inspect.Signature) -> list[tuple[str, Any, Any]]:
    """What a caller relies on: each parameter's name, kind and default (not its annotation)."""
    return [(p.name, p.kind, p.default) for p in signature.parameters.values()]
