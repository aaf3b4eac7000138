"""modulith.E001, E002: what a running module's manifest names by dotted path imports, and
is what its place needs: a handler a function of the event, a provider a class built with no
arguments, an API a django-ninja Router. A typo is then a message at start, not a failed
delivery or request later."""

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from types import ModuleType
from typing import Any

from django.core.checks import CheckMessage, Error
from ninja import Router

from modulith.bus.handlers import async_problem
from modulith.modules import Module
from modulith.modules.checks.start import one_line
from modulith.modules.errors import ConfigurationError


class Unimportable(Exception):
    """The reason, in one line, why a dotted path names nothing."""


def imported(path: str) -> Any:
    """The object a dotted path (package.module.name) names."""
    module_path, _, name = path.rpartition(".")
    if not module_path:
        raise Unimportable("it is not a dotted path (package.module.name)")
    try:
        parent = import_module(module_path)
        return getattr(parent, name) if hasattr(parent, name) else _submodule(parent, path)
    except Exception as error:  # whatever stops the import (a syntax error too), in one line
        reason = str(error)
        if not isinstance(error, ImportError | AttributeError):
            reason = f"{type(error).__name__}: {reason}"
        raise Unimportable(" ".join(reason.split())) from None


def _submodule(parent: ModuleType, path: str) -> ModuleType:
    """A path to a module (`modules.orders.api`) names the module, imported or not yet."""
    try:
        return import_module(path)
    except ModuleNotFoundError as error:
        if error.name != path:  # the module exists, and fails to import something else
            raise
        name = path.rpartition(".")[2]
        raise AttributeError(f"module {parent.__name__!r} has no attribute {name!r}") from None


@dataclass(frozen=True)
class Role:
    """What a place in a manifest needs of the object it names: `problem` says what is wrong
    with an object (None when it fits), `hint` what to name instead."""

    problem: Callable[[Any], str | None]
    hint: str


def resolve(module: Module, what: str, path: str, role: Role) -> tuple[Any, list[CheckMessage]]:
    """What `path` names, or None and the error saying why it cannot serve as `what`."""
    try:
        found = imported(path)
    except Unimportable as error:
        return None, [
            Error(
                f"{module.name} {what} {path}, which cannot be imported: {error}",
                hint=f"Correct the dotted path in {module.name}'s manifest, or the code it names.",
                obj=module.name,
                id="modulith.E001",
            )
        ]
    wrong = role.problem(found)
    if wrong:
        return None, [
            Error(
                f"{module.name} {what} {path}, which is {wrong}",
                hint=f"In {module.name}'s manifest, name {role.hint}.",
                obj=module.name,
                id="modulith.E002",
            )
        ]
    return found, []


def require(module: Module, what: str, path: str, role: Role) -> Any:
    """What `path` names, for code that cannot go on without it (the API's routers, imported
    with the URLs, before `manage.py check` could report): its error in one line."""
    found, errors = resolve(module, what, path, role)
    if errors:
        raise ConfigurationError(one_line(errors[0]))
    return found


def _handler_problem(found: Any) -> str | None:
    if not callable(found) or inspect.isclass(found):
        return f"{_kind(found)}, not a function"
    signature = signature_of(found)
    if signature is None:
        return async_problem(found)
    try:
        signature.bind(object())  # the dispatcher calls handler(event)
    except TypeError:
        name = getattr(found, "__name__", "")
        return f"a function {name}{plain(signature)}, not one that takes the event alone"
    return async_problem(found)


def _provider_problem(found: Any) -> str | None:
    if not inspect.isclass(found):
        return f"{_kind(found)}, not a class"
    signature = signature_of(found)
    required = [
        p.name
        for p in (signature.parameters.values() if signature else ())
        if p.default is p.empty and p.kind not in {p.VAR_POSITIONAL, p.VAR_KEYWORD}
    ]
    if required:  # the port resolver builds it with no arguments
        return f"a class whose constructor needs {', '.join(required)}"
    return None


def _router_problem(found: Any) -> str | None:
    return None if isinstance(found, Router) else f"{_kind(found)}, not a Router"


HANDLER = Role(
    _handler_problem,
    "the handler function itself (package.module.function), which takes the event",
)
PROVIDER = Role(
    _provider_problem, "the class that implements the port, which is built with no arguments"
)
API = Role(_router_problem, "the module's django-ninja Router (router = Router() in its api.py)")


def signature_of(found: Any) -> inspect.Signature | None:
    try:
        return inspect.signature(found)
    except (TypeError, ValueError):  # one Python cannot tell (some builtins): nothing to check
        return None


def plain(signature: inspect.Signature) -> str:
    """`(self, skus)`: the parameters as a caller sees them, without annotations."""
    return str(
        signature.replace(
            parameters=[p.replace(annotation=p.empty) for p in signature.parameters.values()],
            return_annotation=inspect.Signature.empty,
        )
    )


def _kind(found: Any) -> str:
    if inspect.ismodule(found):
        return "a module"
    if inspect.isclass(found):
        return "a class"
    if inspect.isroutine(found):
        return "a function"
    return f"a {type(found).__name__}"
