"""An event's evolution as its contract declares it: upcasters compose from any older version
to the current one, downcasters back; a missing step is a VersionGap naming it, and a
declaration with a gap is found before anything runs."""

from collections.abc import Mapping
from typing import Any, ClassVar

import pytest

from modulith.contracts import ContractModel, Converter, Event, VersionGap, unchanged
from modulith.contracts.evolution import (
    downcast,
    evolution_problems,
    name_at,
    readable_from,
    upcast,
)


def v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """Version 1 had one `address` line; version 2 splits off the city."""
    street, _, city = data.pop("address").partition(", ")
    return data | {"street": street, "city": city}


def v2_to_v3(data: dict[str, Any]) -> dict[str, Any]:
    """Version 3 nests the address."""
    return {"parcelId": data["parcelId"], "to": {"street": data["street"], "city": data["city"]}}


def v3_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    return {"parcelId": data["parcelId"], **data["to"]}


def v2_to_v1(data: dict[str, Any]) -> dict[str, Any]:
    return {"parcelId": data["parcelId"], "address": f"{data['street']}, {data['city']}"}


class Address(ContractModel):
    street: str
    city: str


class ParcelDispatched(Event):
    schema_version: ClassVar[str] = "3.1"
    upcasters: ClassVar[Mapping[int, Converter]] = {1: v1_to_v2, 2: v2_to_v3}
    downcasters: ClassVar[Mapping[int, Converter]] = {1: v2_to_v1, 2: v3_to_v2}
    former_names: ClassVar[Mapping[str, int]] = {"ParcelSent": 1, "ShipmentSent": 2}
    parcel_id: str
    to: Address


V1 = {"parcelId": "p-1", "address": "1 Rue Haute, Lyon"}
V2 = {"parcelId": "p-1", "street": "1 Rue Haute", "city": "Lyon"}
V3 = {"parcelId": "p-1", "to": {"street": "1 Rue Haute", "city": "Lyon"}}


def test_upcasters_compose_from_any_older_version_to_the_current_one() -> None:
    assert upcast(ParcelDispatched, dict(V1), from_major=1) == V3
    assert upcast(ParcelDispatched, dict(V2), from_major=2) == V3
    assert upcast(ParcelDispatched, dict(V3), from_major=3) == V3


def test_downcasters_lead_back_to_each_older_version() -> None:
    assert downcast(ParcelDispatched, V3, to_major=2) == V2
    assert downcast(ParcelDispatched, V3, to_major=1) == V1


def test_an_event_has_the_name_it_had_at_each_version() -> None:
    assert [name_at(ParcelDispatched, major) for major in (1, 2, 3)] == [
        "ParcelSent",
        "ShipmentSent",
        "ParcelDispatched",
    ]


class Gapped(Event):
    """Version 1 reads as 2, but nothing leads from 2 to 3 (nor back from 3)."""

    schema_version: ClassVar[str] = "3.0"
    upcasters: ClassVar[Mapping[int, Converter]] = {1: unchanged}
    downcasters: ClassVar[Mapping[int, Converter]] = {1: unchanged}


def test_a_missing_step_is_a_version_gap_naming_it() -> None:
    with pytest.raises(VersionGap) as gap:
        upcast(Gapped, {}, from_major=1)

    assert str(gap.value) == (
        "Gapped has no upcaster between versions 2 and 3, so its version 1 cannot become "
        "version 3 (declare upcasters[2] on Gapped; versions 1 to 3)"
    )
    with pytest.raises(VersionGap, match=r"no downcaster between versions 2 and 3"):
        downcast(Gapped, {}, to_major=1)


def test_a_gap_in_a_declared_chain_is_found_before_anything_runs() -> None:
    assert evolution_problems(ParcelDispatched) == []
    assert evolution_problems(Gapped) == [
        "Gapped 3.0: upcasters has a gap between versions 2 and 3, so version 1 cannot be "
        "read as version 3 (declare upcasters[2])",
        "Gapped 3.0: downcasters has a gap between versions 2 and 3, so version 3 cannot be "
        "published as version 1 (declare downcasters[2])",
    ]
    assert readable_from(Gapped) == 3  # what arrives as 1.x or 2.x is dead-lettered


class Misdeclared(Event):
    schema_version: ClassVar[str] = "2.0"
    upcasters: ClassVar[Mapping[int, Converter]] = {2: unchanged}
    former_names: ClassVar[Mapping[str, int]] = {"Misdeclared": 1, "Older": 2}


def test_steps_and_former_names_that_cannot_be_are_refused_one_line_each() -> None:
    assert evolution_problems(Misdeclared) == [
        "Misdeclared 2.0: upcasters[2] is no step between two versions before the current one "
        "(steps are keyed by the older version, 1 to 1)",
        "Misdeclared 2.0: former name 'Misdeclared' is not another name",
        "Misdeclared 2.0: former name Older must map to the last major version published "
        "under it, 1 to 1 (a rename takes a new major version)",
    ]
