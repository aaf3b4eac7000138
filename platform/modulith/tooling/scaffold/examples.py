"""Valid example values of an event's fields, as Python expressions for generated tests."""

import json
import types
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Annotated, Any, Literal, Union, get_args, get_origin
from uuid import UUID

from pydantic import BaseModel

from modulith.tooling.scaffold.errors import ScaffoldError
from modulith.tooling.scaffold.imports import Imports

COLLECTIONS = (list, tuple, set, frozenset)
SIMPLE = {str: '"example"', bool: "True", int: "1", float: "1.0"}
# type -> the import an example needs (module, name) and the example
IMPORTED: dict[Any, tuple[str, str, str]] = {
    UUID: ("uuid", "uuid4", "uuid4()"),
    Decimal: ("decimal", "Decimal", 'Decimal("1.00")'),
    datetime: ("django.utils", "timezone", "timezone.now()"),
    date: ("datetime", "date", "date(2000, 1, 1)"),
}


def required_arguments(model: type[BaseModel], imports: Imports) -> list[str]:
    """`field=example` for each field of `model` without a default."""
    return [
        f"{name}={example(info.annotation, imports)}"
        for name, info in model.model_fields.items()
        if info.is_required()
    ]


def example(annotation: Any, imports: Imports) -> str:
    """A Python expression of a valid value of `annotation`, for a generated test."""
    origin, arguments = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return example(arguments[0], imports)
    if origin is Literal:
        value = arguments[0]
        return json.dumps(value) if isinstance(value, str) else repr(value)
    if origin in (Union, types.UnionType):
        return "None" if type(None) in arguments else example(arguments[0], imports)
    if origin in COLLECTIONS or annotation in COLLECTIONS:
        return "[]"
    if origin is dict or annotation is dict:
        return "{}"
    return _of_type(annotation, imports)


def _of_type(annotation: Any, imports: Imports) -> str:
    if annotation in SIMPLE:
        return SIMPLE[annotation]
    if annotation in IMPORTED:
        module, name, expression = IMPORTED[annotation]
        imports.add(module, name)
        return expression
    if isinstance(annotation, type) and issubclass(annotation, Enum | BaseModel):
        imports.add(annotation.__module__, annotation.__name__)
        if issubclass(annotation, Enum):
            return f"{annotation.__name__}.{next(iter(annotation)).name}"
        return f"{annotation.__name__}({', '.join(required_arguments(annotation, imports))})"
    raise ScaffoldError(
        f"cannot make an example {annotation!r} for the generated tests: handle this event "
        "by hand, or give the field a default"
    )
