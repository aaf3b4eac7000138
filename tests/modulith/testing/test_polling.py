"""modulith.testing.wait_until: a test polls for the state it needs, with a deadline, and a wait
that fails says what it awaited and what it last saw."""

import itertools
import time
from collections.abc import Iterator

import pytest

from modulith.testing import NotReached, wait_until


def test_a_wait_returns_what_it_saw_as_soon_as_it_is_what_was_awaited() -> None:
    counter = itertools.count(1)

    seen = wait_until(lambda: next(counter), lambda n: n >= 3, awaiting="a third observation")

    assert seen == 3
    assert next(counter) == 4  # no observation after the one awaited


def test_without_a_condition_a_wait_awaits_something_truthy() -> None:
    answers = iter([[], [], ["message"]])

    assert wait_until(lambda: next(answers), awaiting="a message") == ["message"]


def test_a_wait_that_times_out_says_what_it_awaited_and_what_it_last_saw() -> None:
    with pytest.raises(NotReached) as timed_out:
        wait_until(
            lambda: "PENDING",
            lambda status: status == "CONFIRMED",
            awaiting="order 7 to be confirmed",
            timeout=0.1,
            details=lambda: "the consumer's output",
        )

    assert str(timed_out.value) == (
        "waited 0.1 s for order 7 to be confirmed; last seen: 'PENDING'\nthe consumer's output"
    )
    assert isinstance(timed_out.value, AssertionError)  # pytest reports a failed assertion


def test_a_wait_keeps_its_deadline() -> None:
    started = time.monotonic()

    with pytest.raises(NotReached):
        wait_until(lambda: False, awaiting="nothing", timeout=0.2, interval=0.05)

    assert 0.2 <= time.monotonic() - started < 1.0


def test_an_error_of_an_observation_fails_the_wait_at_once() -> None:
    def exited() -> bool:
        raise AssertionError("the consumer exited with 1")

    started = time.monotonic()
    with pytest.raises(AssertionError, match="the consumer exited with 1"):
        wait_until(exited, awaiting="the consumer to handle it", timeout=5)

    assert time.monotonic() - started < 1.0


def test_an_error_it_is_told_to_ignore_is_what_it_last_saw_and_the_wait_goes_on() -> None:
    answers: Iterator[str | Exception] = iter(
        [ConnectionRefusedError("not listening yet"), "ready"]
    )

    def answer() -> str:
        found = next(answers, ConnectionRefusedError("not listening"))
        if isinstance(found, Exception):
            raise found
        return found

    assert wait_until(answer, awaiting="the server", ignoring=OSError) == "ready"
    with pytest.raises(NotReached, match=r"last seen: raised ConnectionRefusedError\('not li"):
        wait_until(answer, awaiting="the server", timeout=0.05, ignoring=OSError)


def test_a_long_state_is_cut_short_in_the_message() -> None:
    with pytest.raises(NotReached) as timed_out:
        wait_until(lambda: "x" * 5000, lambda _: False, awaiting="less", timeout=0)

    message = str(timed_out.value)
    assert len(message) < 2200
    assert message.endswith("... (5002 characters)")
