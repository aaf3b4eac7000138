"""The names of a module's parts, derived from the module's name and its model's."""

import re
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Names:
    """The names of a module's parts: `shipping` with model `Shipment` gives ShippingQueries,
    ShipmentCreated, shipment_create, ..."""

    name: str
    model: str

    @property
    def title(self) -> str:
        return self.name.replace("_", " ").capitalize()

    @property
    def possessive(self) -> str:
        return self.title + ("'" if self.title.endswith("s") else "'s")

    @property
    def camel(self) -> str:
        return capitalized(self.name.split("_"))

    @property
    def entity(self) -> str:
        return snake(self.model)

    @property
    def plural(self) -> str:
        return pluralize(self.entity)

    @property
    def created(self) -> str:
        return f"{self.model}Created"

    @property
    def summary(self) -> str:
        return f"{self.model}Summary"

    @property
    def port(self) -> str:
        return f"{self.camel}Queries"


def snake(camel: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", camel).lower()


def pluralize(word: str) -> str:
    if re.search(r"[^aeiou]y$", word):
        return word[:-1] + "ies"
    if re.search(r"(s|x|z|ch|sh)$", word):
        return word + "es"
    return word + "s"


def default_model(name: str) -> str:
    """The module's name in the singular, as a class name: `payments` gives Payment."""
    *words, last = name.split("_")
    if last.endswith("ies") and len(last) > 3:
        last = last[:-3] + "y"
    elif last.endswith("s") and not last.endswith("ss") and len(last) > 1:
        last = last[:-1]
    return capitalized([*words, last])


def capitalized(words: Iterable[str]) -> str:
    """`["loyalty", "points"]` gives LoyaltyPoints."""
    return "".join(word.capitalize() for word in words)
