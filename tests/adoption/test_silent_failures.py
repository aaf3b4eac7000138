"""What failed silently when a team adopted modulith by hand is now a check's error, before
anything is lost: a module given its own database while it is still tied to the shared one, or
before its rows are moved there, or under the name of the shared database itself; a move's
target that a new database could not be made like; the bus's tables recorded but missing."""

from pathlib import Path

import pytest

from tests.adoption.project import Databases, LegacyProject

pytestmark = pytest.mark.slow


def errors(project: LegacyProject, *args: str, **env: str) -> str:
    """What `manage.py check` refuses with, which it must."""
    result = project.manage("check", *args, **env)
    assert result.returncode != 0, result.stderr
    return result.stderr


def test_a_module_given_its_own_database_while_tied_or_under_another_name_is_refused(
    tmp_path: Path, databases: Databases
) -> None:
    project = LegacyProject.seeded(tmp_path / "project", databases, subscribers=20)
    project.adopt(untied=False)
    databases.create("accounts")

    # Its relations would cross databases: Django refuses them, or reads a stale copy.
    tied = errors(project, ACCOUNTS_DATABASE_URL=databases.url("accounts"))
    assert "accounts: (modulith.E031) accounts's relations cross databases" in tied
    assert "accounts.User.groups -> auth.Group" in tied
    assert "blog.Post.author -> accounts.User" in tied
    # ... and its rows would not be there.
    assert "accounts: (modulith.E032) accounts runs on its own database 'accounts'" in tied

    # The shared database under a second name: no table of its would ever be made.
    twin = errors(project, NEWSLETTER_DATABASE_URL=databases.url("default"))
    assert "newsletter: (modulith.E030) newsletter's database 'newsletter' is the database" in twin
    migrated = project.manage("migrate", NEWSLETTER_DATABASE_URL=databases.url("default"))
    assert migrated.returncode != 0
    assert "modulith.E030" in migrated.stderr


def test_an_untied_module_given_an_empty_database_or_missing_its_bus_is_refused(
    tmp_path: Path, databases: Databases
) -> None:
    project = LegacyProject.seeded(tmp_path / "project", databases, subscribers=20)
    project.adopt(untied=True)
    databases.create("newsletter")
    own = {"NEWSLETTER_DATABASE_URL": databases.url("newsletter")}

    # Its rows are still in the shared database: to the module they would all be gone.
    empty = errors(project, **own)
    assert "newsletter: (modulith.E032) newsletter runs on its own database 'newsletter'" in empty
    assert "newsletter_subscriber_newsletters" in empty
    assert "manage.py movedata newsletter" in empty
    if databases.engine == "sqlite":  # without a write-ahead log, its reads would block writers
        online = project.manage("movedata", "newsletter", "--online", **own)
        assert online.returncode == 1
        assert "without a write-ahead log" in online.stderr

    # Its unsquashed migrations would make, on a new database, a key to accounts' table.
    (project.root / "newsletter" / "migrations" / "0001_squashed_0002_untie.py").unlink()
    replayed = errors(project, **own)
    assert "newsletter: (modulith.E035)" in replayed
    assert "0001_initial: Subscriber.user -> accounts.User" in replayed

    # The bus's migrations recorded, its tables gone: every event would be lost.
    with databases.cursor("default") as cursor:
        cursor.execute('DROP TABLE "modulith_delivery"')
    missing = errors(project)
    assert (
        "(modulith.E034) the bus's tables modulith_delivery are missing from 'default'" in missing
    )
