"""Base classes for everything that crosses a module boundary."""

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

# One step of an event's evolution: the JSON data (wire names) of one major version in, the
# data of the next (an upcaster) or of the previous one (a downcaster) out. A pure function:
# it runs on every delivery of an older event, and again when a dead letter is replayed.
Converter = Callable[[dict[str, Any]], dict[str, Any]]

_NONE: Mapping[Any, Any] = MappingProxyType({})


class ContractModel(BaseModel):
    """A value that crosses a module boundary: camelCase on the wire, snake_case in Python."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
        # Minor schema versions may add optional fields: older readers ignore them.
        extra="ignore",
    )


class Event(ContractModel):
    """A fact that happened in one module, named in the past tense.

    `event_name` is the wire name (EventBridge `detail-type`); `schema_version` is
    "MAJOR.MINOR": a reader refuses a major version higher than the one it knows.

    A subscriber validates an event's data as the JSON it came as, in pydantic's strict mode:
    a number must be a JSON number (`"5"` is not 5), a boolean a JSON boolean; what JSON has no
    type for (UUIDs, decimals, datetimes, enumerations) comes as a string, as the publisher
    wrote it.

    `ordering_key` names the field whose value orders the event: for each subscriber, the
    events of one value (one SKU, one order) are delivered one at a time, in the order they
    were published, events of different values in parallel (docs/architecture.md, "Per-key
    ordering"). None (the default): no order is kept.

    How it evolves (`modulith.contracts.evolution`, docs/architecture.md, "Evolving an event"):
    - `upcasters[N]` turns the data of major version N into that of N + 1: a subscriber reads
      an older event through the chain up to the current version, so handlers see only that.
    - `downcasters[N]` turns the data of N + 1 back into N: what lets a producer keep
      publishing version N (`MODULITH_PUBLISH_VERSIONS`) until every consumer reads N + 1.
    - `former_names` maps each name the event had before to the last major version published
      under it: a subscriber answers to it, and a producer publishing that version uses it.
    """

    event_name: ClassVar[str]
    schema_version: ClassVar[str] = "1.0"
    ordering_key: ClassVar[str | None] = None
    upcasters: ClassVar[Mapping[int, Converter]] = _NONE
    downcasters: ClassVar[Mapping[int, Converter]] = _NONE
    former_names: ClassVar[Mapping[str, int]] = _NONE

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "event_name" not in cls.__dict__:
            cls.event_name = cls.__name__

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        # Called once the fields exist: a key naming no field fails as the contract is imported.
        super().__pydantic_init_subclass__(**kwargs)
        key = cls.ordering_key
        if key is not None and key not in cls.model_fields:
            raise TypeError(
                f"{cls.__name__}.ordering_key names {key!r}, which is not a field of "
                f"{cls.__name__}; its fields are {', '.join(cls.model_fields) or 'none'}"
            )
