"""inventory's StockReservationFailed at 3.0: `skus` became `missingSkus`; its upcasters read
versions 1 and 2 as 3, its downcasters write 3 as 2 or 1."""

from uuid import uuid4

from contracts.inventory import StockReservationFailed
from modulith.contracts.evolution import downcast, evolution_problems, upcast

ORDER = str(uuid4())
OLD = {"orderId": ORDER, "reason": "OUT_OF_STOCK", "skus": ["KB-1", "MS-2"]}
CURRENT = {"orderId": ORDER, "reason": "OUT_OF_STOCK", "missingSkus": ["KB-1", "MS-2"]}


def test_versions_1_and_2_read_as_version_3_and_validate() -> None:
    for version in (1, 2):
        data = upcast(StockReservationFailed, dict(OLD), from_major=version)

        assert data == CURRENT
        assert StockReservationFailed.model_validate(data).missing_skus == ["KB-1", "MS-2"]


def test_version_3_written_back_as_2_and_1_is_what_those_readers_expect() -> None:
    assert downcast(StockReservationFailed, dict(CURRENT), to_major=2) == OLD
    assert downcast(StockReservationFailed, dict(CURRENT), to_major=1) == OLD


def test_the_steps_leave_their_input_as_it_was() -> None:
    given = dict(OLD)
    upcast(StockReservationFailed, given, from_major=2)

    assert given == OLD


def test_its_chain_has_no_gap() -> None:
    assert evolution_problems(StockReservationFailed) == []
