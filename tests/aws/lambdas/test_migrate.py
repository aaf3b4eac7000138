"""The migrate function: a release invokes it once before the other functions move to the new
image; it migrates the running modules' databases and says what it did."""

import pytest

from modulith.aws.lambdas import migrate
from tests.lambda_events import context

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def test_the_migrate_function_migrates_every_running_modules_database() -> None:
    answer = migrate.handler({}, context(900))

    assert answer["migrated"] is True
    for module in ("orders", "inventory", "payments"):
        assert module in answer["output"], answer["output"]
