"""Text that is safe to carry across a boundary: `CleanText` is a string, never a number taken
as one, without the characters that let a value lie about itself or break what stores it.

Refused: control characters (C0, DEL, C1: a NUL that PostgreSQL will not store, a newline that
forges a log line), the bidirectional formatting characters that make text display in another
order than it is stored (U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069, the "Trojan
Source" characters), and lone surrogates, which no database or UTF-8 encoder takes. The same
rule is in the JSON schema as a `pattern`, so a producer elsewhere can check its data first.

Its length and whitespace rules are given with it, in `TextConstraints` (applied to the string
itself, so each error says what is wrong in its own words):
`Annotated[str, TextConstraints(min_length=1, max_length=100)]`.
"""

import re
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

_REFUSED = "\\u0000-\\u001F\\u007F-\\u009F\\u061C\\u200E\\u200F\\u202A-\\u202E\\u2066-\\u2069"
# The rule as a JSON schema (ECMA-262) pattern; surrogates cannot be written in one.
PATTERN = f"^[^{_REFUSED}]*$"
_FIRST_REFUSED = re.compile(f"[{_REFUSED}\\ud800-\\udfff]")


@dataclass(frozen=True)
class TextConstraints:
    """A strict string (never a number taken as one) without hidden characters, and within
    these bounds. `strip_whitespace` trims both ends first (for input typed by people)."""

    min_length: int | None = None
    max_length: int | None = None
    strip_whitespace: bool = False

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        text = core_schema.str_schema(
            strict=True,
            min_length=self.min_length,
            max_length=self.max_length,
            strip_whitespace=self.strip_whitespace or None,
        )
        return core_schema.no_info_after_validator_function(_refuse_hidden, text)

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema["pattern"] = PATTERN
        return json_schema


def _refuse_hidden(value: str) -> str:
    found = _FIRST_REFUSED.search(value)
    if found is not None:
        raise PydanticCustomError(
            "hidden_character",
            "must not contain control or bidirectional formatting characters "
            "(found U+{code} at position {position})",
            {"code": f"{ord(found.group()):04X}", "position": found.start()},
        )
    return value


CleanText = Annotated[str, TextConstraints()]
