"""The legacy project's own code and tests are not the suite's: they run in its processes."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.adoption.project import Databases, LegacyProject

collect_ignore = ["legacy", "untied"]


@pytest.fixture
def databases(tmp_path: Path) -> Iterator[Databases]:
    """The legacy project's databases: on the suite's PostgreSQL when it runs on one."""
    made = Databases.for_suite(tmp_path)
    yield made
    made.drop_all()


@pytest.fixture
def project(tmp_path: Path, databases: Databases) -> LegacyProject:
    """The legacy project as its team left it: migrated, with years of data (enough for its
    move to take many batches)."""
    return LegacyProject.seeded(tmp_path / "project", databases, subscribers=3000)
