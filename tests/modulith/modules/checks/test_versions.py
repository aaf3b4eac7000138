"""modulith.E040 and E041: an event's declared evolution, and the versions a process is asked
to publish, are checked when it starts."""

from collections.abc import Mapping
from typing import Any, ClassVar

from django.core.checks import run_checks

from modulith import Module
from modulith.contracts import Converter, Event, unchanged
from modulith.modules import Topology
from modulith.modules.checks import TAG
from modulith.modules.checks.versions import evolution_errors, publish_version_errors


class ParcelDispatched(Event):
    schema_version: ClassVar[str] = "3.0"
    upcasters: ClassVar[Mapping[int, Converter]] = {1: unchanged, 2: unchanged}
    downcasters: ClassVar[Mapping[int, Converter]] = {2: unchanged}


class ParcelLost(Event):
    """Its upcasters skip the step from 2 to 3."""

    schema_version: ClassVar[str] = "3.0"
    upcasters: ClassVar[Mapping[int, Converter]] = {1: unchanged}


WAREHOUSE = Module(name="warehouse", app="warehouse", publishes=(ParcelDispatched, ParcelLost))
TOPOLOGY = Topology(modules=(WAREHOUSE,), running=frozenset({"warehouse"}))
RUNNING = {"ParcelDispatched", "ParcelLost"}


def test_a_gap_in_an_events_upcasters_is_modulith_e040() -> None:
    [error] = evolution_errors(TOPOLOGY)

    assert (error.id, error.obj) == ("modulith.E040", "ParcelLost")
    assert error.msg == (
        "ParcelLost 3.0: upcasters has a gap between versions 2 and 3, so version 1 cannot be "
        "read as version 3 (declare upcasters[2])"
    )


def test_publishing_a_version_no_downcaster_leads_to_is_modulith_e041() -> None:
    errors = publish_version_errors(
        TOPOLOGY, {"ParcelDispatched": 1, "ParcelLost": 4, "ParcelFound": 1}, RUNNING
    )

    assert [(error.id, error.msg) for error in errors] == [
        (
            "modulith.E041",
            "MODULITH_PUBLISH_VERSIONS asks for ParcelDispatched version 1, but it has no "
            "downcaster between versions 2 and 1 (declare downcasters[1] on ParcelDispatched)",
        ),
        ("modulith.E041", "MODULITH_PUBLISH_VERSIONS names ParcelFound, which no module publishes"),
        (
            "modulith.E041",
            "MODULITH_PUBLISH_VERSIONS asks for ParcelLost version 4, above its contract's 3.0",
        ),
    ]
    assert publish_version_errors(TOPOLOGY, {"ParcelDispatched": 2}, RUNNING) == []
    # A module that does not run here publishes nothing here.
    assert publish_version_errors(TOPOLOGY, {"ParcelDispatched": 1}, set()) == []


def test_the_shops_publish_versions_pass_and_a_wrong_one_is_reported(settings: Any) -> None:
    settings.MODULITH_PUBLISH_VERSIONS = {"StockReservationFailed": 1}
    assert [m for m in run_checks(tags=[TAG]) if str(m.id).startswith("modulith.E04")] == []

    settings.MODULITH_PUBLISH_VERSIONS = {"OrderPlaced": 1}
    [error] = [m for m in run_checks(tags=[TAG]) if str(m.id).startswith("modulith.E04")]
    assert error.msg == (
        "MODULITH_PUBLISH_VERSIONS asks for OrderPlaced version 1, but it has no downcaster "
        "between versions 2 and 1 (declare downcasters[1] on OrderPlaced)"
    )
