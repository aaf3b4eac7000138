"""Moving newsletter's data with the project running: online, a writer keeps writing while the
copy runs and is refused only for the last catch-up; every write that succeeded arrives. And
the ways back: a move given up before its cut-over, a cut-over undone before the drop."""

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from modulith.testing import wait_until
from tests.adoption.project import (
    Databases,
    LegacyProject,
    kill,
    move_killed_mid_copy,
)

pytestmark = pytest.mark.slow

# A client of newsletter's service, as a web process would be: it subscribes someone every
# 20 ms and writes, one JSON line each to its log, what became of it, until `stop` exists
# (or a minute has passed).
WRITER = """
import json, os, sys, time
import django
django.setup()
from newsletter.services import subscriber_add

log, stop, name = sys.argv[1:4]
deadline = time.monotonic() + 60
with open(log, "a") as out:
    for n in range(100_000):
        if os.path.exists(stop) or time.monotonic() > deadline:
            break
        line = {"email": f"{name}-{n}@example.com", "ok": True}
        try:
            subscriber_add(email=line["email"], account_id=None, newsletter="weekly")
        except Exception as error:
            line.update(ok=False, error=str(error))
        out.write(json.dumps(line) + "\\n")
        out.flush()
        time.sleep(0.02)  # the writer's pace: the load the move runs under, not a wait
"""


# A writer's transaction takes the write lock when it begins: a deferred one, reading first,
# would fail at once ("database is locked") whenever another writer committed meanwhile.
SQLITE_WRITERS = """
DATABASES["default"].setdefault("OPTIONS", {})["transaction_mode"] = "IMMEDIATE"
"""


@pytest.fixture
def untied(request: pytest.FixtureRequest, tmp_path: Path, databases: Databases) -> LegacyProject:
    """Newsletter untied, in the shared database, with as many subscribers as the test asks
    (`@pytest.mark.parametrize("untied", [n], indirect=True)`)."""
    project = LegacyProject.seeded(tmp_path / "project", databases, subscribers=request.param)
    project.adopt(untied=True)
    (project.root / "writer.py").write_text(WRITER)
    databases.create("newsletter")
    return project


@pytest.mark.parametrize("untied", [3000], indirect=True)  # a copy that takes a while
def test_an_online_move_refuses_writes_for_seconds_and_loses_none(
    untied: LegacyProject, databases: Databases, tmp_path: Path
) -> None:
    own = {"NEWSLETTER_DATABASE_URL": databases.url("newsletter")}
    if databases.engine == "sqlite":  # SQLite as concurrent writers need it: the guide's advice
        with databases.cursor("default") as cursor:
            cursor.execute("PRAGMA journal_mode=WAL")
            assert cursor.fetchone() == ("wal",)
        untied.append_settings(SQLITE_WRITERS)
    log = tmp_path / "before.jsonl"
    before = writer(untied, log, "before")  # as the project runs now
    try:
        wait_until(lambda: any(line["ok"] for line in lines(log)), awaiting="a write", timeout=60)
        moved = untied.manage("movedata", "newsletter", "--online", "--batch-size", "200", **own)
        assert moved.returncode == 0, moved.stdout + moved.stderr
    finally:
        stopped(before, log)
    written = lines(log)
    ok = [line["email"] for line in written if line["ok"]]
    refused = [line for line in written if not line["ok"]]

    # It kept writing while the copy ran, and was refused only once the tables froze.
    assert "caught up newsletter_subscriber" in moved.stdout
    frozen = float(moved.stdout.split("writes frozen ", 1)[1].split(" s", 1)[0])
    assert frozen < 5, moved.stdout
    took = float(moved.stdout.split(", in ", 1)[1].split(" s", 1)[0])
    assert took > frozen
    assert all("takes no writes" in line["error"] for line in refused), refused[:3]
    assert ok, "no write got through while the copy ran"

    # Every write that succeeded arrived; the two copies are the same, row for row.
    emails = {row for row in subscribers(databases, "newsletter")}
    assert set(ok) <= emails
    assert not {line["email"] for line in refused} & emails
    for table in ("newsletter_subscriber", "newsletter_subscriber_newsletters"):
        assert databases.rows("newsletter")[table] == databases.rows("default")[table]

    # Restarted with its own database, the writer writes there.
    log = tmp_path / "after.jsonl"
    after = writer(untied, log, "after", **own)
    try:
        wait_until(lambda: any(line["ok"] for line in lines(log)), awaiting="a write", timeout=60)
    finally:
        stopped(after, log)
    assert any(email.startswith("after-") for email in subscribers(databases, "newsletter"))


@pytest.mark.parametrize("untied", [300], indirect=True)
def test_a_move_given_up_or_gone_back_leaves_the_shared_database_taking_writes(
    untied: LegacyProject, databases: Databases
) -> None:
    own = {"NEWSLETTER_DATABASE_URL": databases.url("newsletter")}

    # Given up mid-copy: the source takes writes again, its rows as they were.
    move_killed_mid_copy(untied, after_rows=50, **own)
    frozen = subscribe(untied, "frozen@example.com")
    assert frozen.returncode != 0
    assert "takes no writes" in frozen.stderr
    untied.must("movedata", "newsletter", "--abort", **own)
    assert subscribe(untied, "after-abort@example.com").returncode == 0

    # Moved, written to in its own database, then moved back before the drop.
    untied.must("movedata", "newsletter", **own)
    status = untied.must("movedata", "newsletter", "--status", **own)
    assert "newsletter: CUT_OVER" in status
    assert "default: CUT_OVER" in status
    assert subscribe(untied, "while-moved@example.com", **own).returncode == 0
    back = untied.must("movedata", "newsletter", "--back", **own)
    assert "moved back to 'default'" in back
    assert "while-moved@example.com" in subscribers(databases, "default")
    assert subscribe(untied, "after-back@example.com").returncode == 0
    assert subscribe(untied, "not-there@example.com", **own).returncode != 0
    checked = untied.manage("check", **own)
    assert (
        "(modulith.E032) newsletter was moved back from 'newsletter' to 'default'" in checked.stderr
    )
    assert untied.manage("check").returncode == 0


def writer(project: LegacyProject, log: Path, name: str, **env: str) -> subprocess.Popen[str]:
    log.touch()
    return subprocess.Popen(
        [sys.executable, "writer.py", str(log), str(log.with_suffix(".stop")), name],
        cwd=project.root,
        env=project.env(
            DJANGO_SETTINGS_MODULE="legacy.settings", MODULITH_ASYNC_HANDLERS="inline", **env
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def stopped(process: subprocess.Popen[str], log: Path) -> None:
    """Asks the writer to stop, and waits for it (kills it after 30 s)."""
    log.with_suffix(".stop").touch()
    try:
        _, err = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        kill(process)
        _, err = process.communicate()
    assert process.returncode == 0, err


def lines(log: Path) -> list[dict[str, Any]]:
    """What the writer has written so far (a line it is writing is left for later)."""
    return [
        json.loads(line)
        for line in log.read_text().splitlines(keepends=True)
        if line.endswith("\n")
    ]


def subscribe(project: LegacyProject, email: str, **env: str) -> subprocess.CompletedProcess[str]:
    code = (
        "from newsletter.services import subscriber_add; "
        f"subscriber_add(email={email!r}, account_id=None, newsletter='weekly')"
    )
    return project.manage("shell", "-c", code, MODULITH_ASYNC_HANDLERS="inline", **env)


def subscribers(databases: Databases, database: str) -> list[str]:
    with databases.cursor(database) as cursor:
        cursor.execute("SELECT email FROM newsletter_subscriber")
        return [row[0] for row in cursor.fetchall()]
