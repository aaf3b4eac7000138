"""The file of queries the pytest plugin records: read back, each crossing once."""

from pathlib import Path

import pytest

from modulith.errors import ConfigurationError
from modulith.readiness.queries import JOIN, CrossingQuery, read_queries

JOINED = CrossingQuery(
    kind=JOIN,
    test="tests/test_blog.py::test_front_page",
    units=("blog", "newsletter"),
    written=(),
    tables=("blog_post", "newsletter_subscriber"),
    sql='SELECT ... FROM "blog_post" INNER JOIN "newsletter_subscriber" ...',
)


def test_each_crossing_is_read_once_as_first_seen(tmp_path: Path) -> None:
    again = CrossingQuery(**{**JOINED.__dict__, "test": "tests/test_blog.py::test_other"})
    recorded = tmp_path / "queries.jsonl"
    recorded.write_text(f"{JOINED.line()}\n\n{again.line()}\n")

    assert read_queries(recorded) == [JOINED]


def test_a_line_the_plugin_did_not_write_is_one_line_naming_it(tmp_path: Path) -> None:
    recorded = tmp_path / "queries.jsonl"
    recorded.write_text(JOINED.line() + '\n{"kind": "join"}\n')

    with pytest.raises(ConfigurationError, match=r"queries.jsonl:2 is not a query the pytest"):
        read_queries(recorded)


def test_a_missing_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"^cannot read the recorded queries"):
        read_queries(tmp_path / "nowhere.jsonl")
