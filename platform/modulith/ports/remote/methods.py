"""A query port's methods, read from its type hints: how their arguments and results travel.

Both sides use the same description, so a remote call validates its arguments before it
leaves and its result when it arrives, and the provider validates what it receives.
"""

import inspect
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, get_type_hints

from pydantic import BaseModel, TypeAdapter, create_model


@dataclass(frozen=True)
class PortMethod:
    port: type[Any]
    name: str
    signature: inspect.Signature
    arguments: type[BaseModel]
    result: TypeAdapter[Any]

    def path(self, provider: str) -> str:
        return f"/internal/{provider}/{self.port.__name__}/{self.name}"

    def encode_arguments(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bytes:
        bound = self.signature.bind(None, *args, **kwargs)
        values = {k: v for k, v in bound.arguments.items() if k != "self"}
        return self.arguments(**values).model_dump_json(by_alias=True).encode()

    def decode_arguments(self, body: bytes) -> dict[str, Any]:
        parsed = self.arguments.model_validate_json(body or b"{}")
        return {name: getattr(parsed, name) for name in type(parsed).model_fields}

    def encode_result(self, value: Any) -> bytes:
        return self.result.dump_json(value, by_alias=True)

    def decode_result(self, body: bytes) -> Any:
        return self.result.validate_json(body)


def port_methods(port: type[Any]) -> dict[str, PortMethod]:
    """The port's public methods (read once per port)."""
    if port not in _described:
        _described[port] = _describe(port)
    return _described[port]


_described: dict[type[Any], dict[str, PortMethod]] = {}


def public_methods(port: type[Any]) -> dict[str, Callable[..., Any]]:
    """The port's public methods, as the Protocol's functions (`self` first)."""
    return {
        name: function
        for name, function in inspect.getmembers(port, inspect.isfunction)
        if not name.startswith("_")
    }


def _describe(port: type[Any]) -> dict[str, PortMethod]:
    methods = {}
    for name, function in public_methods(port).items():
        hints = get_type_hints(function)
        signature = inspect.signature(function)
        fields: dict[str, Any] = {
            parameter: (hints[parameter], ...)
            for parameter in list(signature.parameters)[1:]  # after self
        }
        methods[name] = PortMethod(
            port=port,
            name=name,
            signature=signature,
            arguments=create_model(f"{port.__name__}_{name}_arguments", **fields),
            result=TypeAdapter(hints.get("return", Any)),
        )
    return methods


def error_body(code: str, message: str) -> bytes:
    return json.dumps({"error": code, "message": message}).encode()
