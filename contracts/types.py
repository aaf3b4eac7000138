"""The values the shop's contracts are made of: strict (a quantity is a whole number, never the
text "5"), and text clean of control and bidirectional formatting characters."""

from typing import Annotated

from pydantic import Field, Strict, StringConstraints

from modulith.contracts import TextConstraints

Quantity = Annotated[int, Strict(), Field(ge=1)]
Sku = Annotated[str, TextConstraints(min_length=1, max_length=64)]
CustomerId = Annotated[str, TextConstraints(min_length=1, max_length=100)]
# An ISO 4217 code: three capital letters.
Currency = Annotated[str, Strict(), StringConstraints(pattern=r"^[A-Z]{3}$")]
