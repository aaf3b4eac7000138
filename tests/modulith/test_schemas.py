"""Event schema compatibility: within one major version, readers of either version can read
the other's data; anything else needs a new major version, which old readers refuse (see
test_delivery.py for that refusal)."""

import json
import shutil
from collections.abc import Mapping
from decimal import Decimal
from io import StringIO
from pathlib import Path
from typing import Any, ClassVar, Literal
from uuid import UUID

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from modulith import Module
from modulith.contracts import Converter, Event
from modulith.modules import Topology
from modulith.tooling.schemas import compare, current_schemas, problems

STORED = Path(settings.BASE_DIR) / "contracts" / "schemas"


class Wire(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


def schema(model: type[BaseModel]) -> dict[str, Any]:
    return model.model_json_schema(by_alias=True)


def breaks(old: type[BaseModel], new: type[BaseModel]) -> list[str]:
    return [str(change) for change in compare(schema(old), schema(new))]


class Placed(Wire):
    order_id: UUID
    customer_id: str


def test_an_identical_schema_is_compatible() -> None:
    assert breaks(Placed, Placed) == []


def test_a_removed_field_breaks() -> None:
    class Placed2(Wire):
        order_id: UUID

    assert breaks(Placed, Placed2) == ["field customerId was removed"]


def test_a_renamed_field_breaks_as_a_removal_and_an_addition() -> None:
    class Placed2(Wire):
        order_id: UUID
        client_id: str

    assert breaks(Placed, Placed2) == [
        "field customerId was removed",
        "field clientId was added as a required field",
    ]


def test_a_new_required_field_breaks() -> None:
    class Placed2(Placed):
        channel: str

    assert breaks(Placed, Placed2) == ["field channel was added as a required field"]


def test_a_new_optional_field_is_compatible() -> None:
    class Placed2(Placed):
        channel: str | None = None
        note: str = ""

    assert breaks(Placed, Placed2) == []


def test_an_optional_field_becoming_required_breaks() -> None:
    class Optional(Wire):
        note: str = ""

    class Required(Wire):
        note: str

    assert breaks(Optional, Required) == ["field note became required"]


def test_a_changed_type_breaks() -> None:
    class Placed2(Wire):
        order_id: int
        customer_id: str

    assert breaks(Placed, Placed2) == [
        "field orderId changed type from string (format uuid) to integer"
    ]


def test_a_changed_field_of_a_nested_line_item_breaks_with_its_path() -> None:
    class Line(Wire):
        sku: str
        unit_price: Decimal

    class Line2(Wire):
        sku: str
        unit_price: int

    class Order(Wire):
        items: list[Line]

    class Order2(Wire):
        items: list[Line2]

    assert breaks(Order, Order2) == [
        "field items[].unitPrice changed type from number | string to integer"
    ]


def test_a_changed_item_type_of_an_array_breaks() -> None:
    class Skus(Wire):
        skus: list[str]

    class Skus2(Wire):
        skus: list[int]

    assert breaks(Skus, Skus2) == ["field skus[] changed type from string to integer"]


def test_a_removed_literal_value_breaks() -> None:
    class Cancelled(Wire):
        reason: Literal["OUT_OF_STOCK", "PAYMENT_DECLINED"]

    class Cancelled2(Wire):
        reason: Literal["OUT_OF_STOCK"]

    assert breaks(Cancelled, Cancelled2) == ["field reason no longer allows 'PAYMENT_DECLINED'"]


def test_an_added_literal_value_breaks_because_older_readers_refuse_it() -> None:
    class Cancelled(Wire):
        reason: Literal["OUT_OF_STOCK"]

    class Cancelled2(Wire):
        reason: Literal["OUT_OF_STOCK", "FRAUD_SUSPECTED"]

    assert breaks(Cancelled, Cancelled2) == [
        "field reason now also allows 'FRAUD_SUSPECTED', which older readers refuse"
    ]


class Category(Wire):
    name: str
    children: list["Category"] = []


class Category2(Wire):
    name: int
    children: list["Category2"] = []


def test_a_model_that_contains_itself_is_compared_too() -> None:
    assert breaks(Category, Category2) == ["field name changed type from string to integer"]


# Versions: one event as its publisher changes it over time (every class names it, since an
# Event subclass otherwise takes its own class name).


class PlacedV1(Event):
    event_name: ClassVar[str] = "OrderPlaced"
    schema_version: ClassVar[str] = "1.0"
    order_id: UUID
    customer_id: str


class PlacedV1WithNote(PlacedV1):
    event_name: ClassVar[str] = "OrderPlaced"
    schema_version: ClassVar[str] = "1.1"
    note: str | None = None


class PlacedV1WithoutCustomer(Event):
    event_name: ClassVar[str] = "OrderPlaced"
    schema_version: ClassVar[str] = "1.1"
    order_id: UUID


def without_customer(data: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in data.items() if key != "customerId"}


class PlacedV2WithoutCustomer(PlacedV1WithoutCustomer):
    event_name: ClassVar[str] = "OrderPlaced"
    schema_version: ClassVar[str] = "2.0"
    upcasters: ClassVar[Mapping[int, Converter]] = {1: without_customer}


class PlacedV2WithoutUpcaster(PlacedV1WithoutCustomer):
    event_name: ClassVar[str] = "OrderPlaced"
    schema_version: ClassVar[str] = "2.0"


class PlacedV3WithAGap(PlacedV1WithoutCustomer):
    """Reads version 1 into 2, but nothing leads from 2 to 3."""

    event_name: ClassVar[str] = "OrderPlaced"
    schema_version: ClassVar[str] = "3.0"
    upcasters: ClassVar[Mapping[int, Converter]] = {1: without_customer}


def schemas(*events: type[Event]) -> dict[str, dict[str, Any]]:
    shop = Module(name="orders", app="modules.orders", publishes=events)
    return current_schemas(Topology(modules=(shop,), running=frozenset()))


def lines(old: type[Event], new: type[Event]) -> list[str]:
    return [str(problem) for problem in problems(schemas(old), schemas(new))]


def test_an_event_schema_names_its_event_version_and_publisher_with_wire_names() -> None:
    [(name, placed)] = schemas(PlacedV1).items()

    assert name == "OrderPlaced"
    assert placed["x-event-name"] == "OrderPlaced"
    assert placed["x-schema-version"] == "1.0"
    assert placed["x-publisher"] == "orders"
    assert list(placed["properties"]) == ["orderId", "customerId"]


def test_a_breaking_change_within_a_major_version_asks_for_the_next_one() -> None:
    assert lines(PlacedV1, PlacedV1WithoutCustomer) == [
        "OrderPlaced 1.1: field customerId was removed; "
        "raise the major schema version (2.0) to allow it"
    ]


def test_a_major_version_bump_with_an_upcaster_from_the_stored_one_allows_a_breaking_change() -> (
    None
):
    [problem] = problems(schemas(PlacedV1), schemas(PlacedV2WithoutCustomer))

    assert not problem.breaking
    assert "the stored schema (1.0) is out of date" in str(problem)


def test_a_major_version_bump_without_an_upcaster_from_the_stored_one_is_refused() -> None:
    [problem] = problems(schemas(PlacedV1), schemas(PlacedV2WithoutUpcaster))

    assert problem.breaking
    assert str(problem) == (
        "OrderPlaced 2.0: no upcaster leads from the stored version 1.0, so events already "
        "published as 1.x could not be read; declare upcasters[1] (version 1 to 2) on its "
        "contract"
    )


def test_a_gap_in_the_chain_of_upcasters_is_one_clear_line(settings: Any, tmp_path: Path) -> None:
    stored = tmp_path / "schemas"
    stored.mkdir()
    (stored / "OrderPlaced.json").write_text(json.dumps(schemas(PlacedV3WithAGap)["OrderPlaced"]))
    shop = Module(name="orders", app="modules.orders", publishes=(PlacedV3WithAGap,))
    settings.MODULITH_TOPOLOGY = Topology(modules=(shop,), running=frozenset({"orders"}))

    with pytest.raises(CommandError) as refused:
        contracts("check", "--dir", str(stored))

    assert str(refused.value).splitlines()[1:] == [
        "OrderPlaced 3.0: upcasters has a gap between versions 2 and 3, so version 1 cannot be "
        "read as version 3 (declare upcasters[2])"
    ]


def test_a_compatible_change_only_needs_the_record_written() -> None:
    [problem] = problems(schemas(PlacedV1), schemas(PlacedV1WithNote))

    assert not problem.breaking
    assert str(problem) == (
        "OrderPlaced 1.1: the stored schema (1.0) is out of date; run `manage.py contracts write`"
    )


def test_lowering_the_version_is_an_error() -> None:
    [problem] = problems(schemas(PlacedV1WithNote), schemas(PlacedV1))

    assert problem.breaking
    assert str(problem) == "OrderPlaced 1.0: the schema version went down from 1.1"


def test_an_event_that_disappears_is_a_breaking_change() -> None:
    [problem] = problems(schemas(PlacedV1), {})

    assert problem.breaking
    assert str(problem).startswith("OrderPlaced 1.0: event OrderPlaced was removed")


def test_a_new_event_must_be_recorded() -> None:
    [problem] = problems({}, schemas(PlacedV1))

    assert not problem.breaking
    assert str(problem) == "new event OrderPlaced: run `manage.py contracts write`"


# The command, on the shop's events.


def contracts(*args: str) -> str:
    out = StringIO()
    call_command("contracts", *args, stdout=out)
    return out.getvalue()


def stored_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "schemas"
    shutil.copytree(STORED, copy)
    return copy


def add_required_field(path: Path, name: str) -> None:
    """Makes the stored schema look like an older one that had one more required field."""
    stored = json.loads(path.read_text())
    stored["properties"][name] = {"title": name, "type": "string"}
    stored["required"].append(name)
    path.write_text(json.dumps(stored))


def test_the_stored_schemas_match_the_shops_events() -> None:
    assert contracts("check") == "contracts: 11 event schemas compatible\n"


def test_check_fails_naming_the_field_when_a_stored_schema_differs_breakingly(
    tmp_path: Path,
) -> None:
    directory = stored_copy(tmp_path)
    add_required_field(directory / "OrderPlaced.json", "couponCode")

    with pytest.raises(CommandError) as refused:
        contracts("check", "--dir", str(directory))

    assert (
        "OrderPlaced 2.0: field couponCode was removed; "
        "raise the major schema version (3.0) to allow it"
    ) in str(refused.value)


def test_the_shops_stock_reservation_failed_3_0_is_accepted_over_its_stored_2_0_by_its_upcaster(
    tmp_path: Path,
) -> None:
    directory = stored_copy(tmp_path)
    path = directory / "StockReservationFailed.json"
    version_2 = json.loads(path.read_text())
    version_2["x-schema-version"] = "2.0"
    version_2["properties"]["skus"] = version_2["properties"].pop("missingSkus")
    version_2["required"] = ["orderId", "reason", "skus"]
    path.write_text(json.dumps(version_2))

    assert "wrote 11 event schemas" in contracts("write", "--dir", str(directory))
    assert contracts("check", "--dir", str(directory)) == "contracts: 11 event schemas compatible\n"
    assert json.loads(path.read_text())["x-schema-version"] == "3.0"


def test_check_fails_when_an_event_has_no_stored_schema(tmp_path: Path) -> None:
    directory = stored_copy(tmp_path)
    (directory / "StockReleased.json").unlink()

    with pytest.raises(CommandError, match=r"new event StockReleased: run `manage.py contracts"):
        contracts("check", "--dir", str(directory))


def test_write_records_one_sorted_indented_file_per_event(tmp_path: Path) -> None:
    directory = tmp_path / "schemas"

    assert contracts("write", "--dir", str(directory)) == (
        f"contracts: wrote 11 event schemas to {directory}\n"
    )
    placed = (directory / "OrderPlaced.json").read_text()
    assert placed == json.dumps(json.loads(placed), indent=2, sort_keys=True) + "\n"
    assert sorted(path.name for path in directory.iterdir()) == sorted(
        path.name for path in STORED.iterdir()
    )


def test_write_refuses_to_overwrite_a_breaking_change(tmp_path: Path) -> None:
    directory = stored_copy(tmp_path)
    add_required_field(directory / "OrderPlaced.json", "couponCode")
    before = (directory / "OrderPlaced.json").read_text()

    with pytest.raises(CommandError, match=r"not written.*\n.*field couponCode was removed"):
        contracts("write", "--dir", str(directory))

    assert (directory / "OrderPlaced.json").read_text() == before
