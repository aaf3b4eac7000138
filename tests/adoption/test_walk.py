"""A legacy Django project walks docs/adopting.md, step by step, on the suite's database
(SQLite files, or PostgreSQL in CI's PostgreSQL phase): modulith installed, two of its apps made
modules in the shared database, the boundaries and the readiness report, newsletter untied,
its data moved to its own database through a SIGKILL, and what runs after the cut-over. After
each step the project's own tests pass and every row it had is still there."""

import json
import subprocess
from collections import Counter

import pytest

from tests.adoption.project import (
    INSTALL,
    UNTIED,
    Databases,
    LegacyProject,
    Rows,
    move_killed_mid_copy,
)

pytestmark = pytest.mark.slow

NEWSLETTER_TABLES = ("newsletter_newsletter", "newsletter_subscriber")
M2M_TABLE = "newsletter_subscriber_newsletters"

# The ties planted in the legacy project, as the readiness report names them.
RELATIONS = {
    "accounts": {
        ("user model", "AUTH_USER_MODEL = 'accounts.User'"),
        ("auth relation", "accounts.User.groups -> auth.Group"),
        ("auth relation", "accounts.User.user_permissions -> auth.Permission"),
        ("foreign key", "admin.LogEntry.user -> accounts.User"),
        ("foreign key", "blog.Post.author -> accounts.User"),
        ("foreign key", "newsletter.Subscriber.user -> accounts.User"),
        ("signal", "newsletter.signals.subscribe_new_user receives post_save of accounts.User"),
    },
    "newsletter": {
        ("foreign key", "newsletter.Subscriber.user -> accounts.User"),
        ("generic relation", "newsletter.Newsletter.comments -> blog.Comment"),
        ("signal", "newsletter.signals.subscribe_new_user receives post_save of accounts.User"),
    },
}
# The queries of the project's tests that need two modules in one database: which, where.
REGISTER = "tests/test_accounts.py::test_a_registered_user_reads_the_weekly_newsletter"
DELETE = "tests/test_accounts.py::test_deleting_a_user_deletes_their_posts"
ADMIN = "tests/test_accounts.py::test_an_admin_puts_a_user_in_a_group"
FRONT_PAGE = "tests/test_blog.py::test_the_front_page_shows_the_posts_of_weekly_readers"
QUERIES = {
    "accounts": {
        ("join across modules", ADMIN),
        ("join across modules", FRONT_PAGE),
        ("transaction across modules", ADMIN),
        ("transaction across modules", DELETE),
        ("transaction across modules", REGISTER),
    },
    "newsletter": {
        ("join across modules", FRONT_PAGE),
        ("transaction across modules", DELETE),
        ("transaction across modules", REGISTER),
    },
}

# After the cut-over: a user registers (accounts publishes UserRegistered in the shared
# database), newsletter subscribes them in its own and publishes Subscribed, accounts notes
# it; the blog's front page asks newsletter through its port.
AFTER_THE_CUT_OVER = """
import json
from django.db import connections
from django.test import Client
from accounts.models import Notice
from accounts.services import user_register
from blog.models import Post
from newsletter.models import Subscriber

user = user_register(username="newcomer", email="newcomer@example.com")
Post.objects.create(author=user, title="First words")
outbox = "SELECT event_name FROM modulith_outboxevent ORDER BY created_at"
def published(alias):
    with connections[alias].cursor() as cursor:
        cursor.execute(outbox)
        return [row[0] for row in cursor.fetchall()]
print(json.dumps({
    "subscribed": [s.email for s in Subscriber.objects.filter(account_id=user.pk)],
    "subscriber_database": Subscriber.objects.filter(account_id=user.pk).db,
    "notices": list(Notice.objects.filter(user=user).values_list("text", flat=True)),
    "published": {"default": published("default"), "newsletter": published("newsletter")},
    "front_page": Client().get("/").json()["posts"][-1],
}))
"""


def test_a_legacy_project_walks_the_guide_to_a_module_in_a_database_of_its_own(
    project: LegacyProject, databases: Databases
) -> None:
    rows = all_rows(databases)

    # 1. Install: no module yet; its checks and its tests (DEBUG off) pass.
    project.append_settings(INSTALL)
    project.must("migrate")
    own_tests_pass(project)
    rows = rows_kept(databases, rows)

    # 2. Two of its apps become modules, in place, in the database they share (their tests
    # pass in step 4, which records their queries).
    project.must("startmodule", "accounts")
    project.must("startmodule", "newsletter")
    assert 'database="default"' in (project.root / "newsletter" / "module.py").read_text()
    migrated = project.manage("migrate")
    assert migrated.returncode == 0, migrated.stderr
    assert "modulith.W030" in migrated.stderr  # what ties them, as warnings
    rows = rows_kept(databases, rows)

    # 3. The boundaries: today's imports across modules and apps, a baseline.
    before = remaining_imports(project.must("boundaries"))
    assert lint_imports(project).returncode == 0

    # 4. The readiness report lists exactly the ties planted, queries of its tests included.
    own_tests_pass(project, "--modulith-queries", "queries.jsonl")
    report = project.manage("readiness", "--queries", "queries.jsonl")
    assert report.returncode == 1
    assert reported(report.stdout) == {
        module: RELATIONS[module] | QUERIES[module] for module in ("accounts", "newsletter")
    }

    # Giving newsletter its own database now is refused: check, the move and extract say why.
    databases.create("newsletter")
    own = {"NEWSLETTER_DATABASE_URL": databases.url("newsletter")}
    refused = project.manage("check", **own)
    assert refused.returncode != 0
    assert "modulith.E031" in refused.stderr
    assert "modulith.E032" in refused.stderr
    moving = project.manage("movedata", "newsletter", **own)
    assert moving.returncode == 1
    assert "newsletter.Subscriber.user -> accounts.User" in moving.stderr
    extracted = project.manage("extract", "newsletter")
    assert extracted.returncode == 1
    assert (
        extracted.stderr.strip()
        .splitlines()[-1]
        .startswith(
            "CommandError: newsletter lives in the shared database 'default', tied to it by "
        )
    )

    # 5. Untied: an event in place of the signal and the foreign key, a port in place of the
    # join. The baseline that shrank fails lint-imports until it is written again.
    project.apply(UNTIED, removed=("newsletter/signals.py",))
    project.must("squashmigrations", "newsletter", "0002", "--noinput")
    project.must("migrate")
    own_tests_pass(project)
    rows = rows_kept(databases, rows)
    assert project.manage("readiness", "newsletter").returncode == 0
    stale_baseline = lint_imports(project)
    assert stale_baseline.returncode == 1
    assert "No matches for ignored import blog.views -> newsletter.models" in stale_baseline.stdout
    after = remaining_imports(project.must("boundaries"))
    assert after < before
    assert lint_imports(project).returncode == 0

    # 6. The data moves, interrupted by SIGKILL, resumed; every row arrives, checked.
    project.environment.update(own)
    moved_before = {t: rows["default"][t] for t in (*NEWSLETTER_TABLES, M2M_TABLE)}
    move_killed_mid_copy(project, after_rows=200)
    assert databases.copied("newsletter") < sum(sum(c.values()) for c in moved_before.values())
    half = project.manage("check")
    assert "modulith.E032" in half.stderr
    assert "not finished" in half.stderr
    resumed = project.must("movedata", "newsletter", "--batch-size", "500")
    assert "counts and checksums equal" in resumed
    arrived = databases.rows("newsletter")
    assert {t: arrived[t] for t in moved_before} == moved_before

    # The cut-over: checked in each configuration, the project's tests pass on both databases.
    assert "modulith.W031" in project.manage("check").stderr
    stale = project.manage("check", NEWSLETTER_DATABASE_URL="")
    assert stale.returncode != 0
    assert "modulith.E033" in stale.stderr
    own_tests_pass(project)
    rows = rows_kept(databases, rows)

    # 7. The module publishes and handles events, and the blog reaches it through its port.
    shell = project.must("shell", "-c", AFTER_THE_CUT_OVER, MODULITH_ASYNC_HANDLERS="inline")
    after_cut_over = json.loads(shell.strip().splitlines()[-1])
    assert after_cut_over == {
        "subscribed": ["newcomer@example.com"],
        "subscriber_database": "newsletter",
        "notices": ["You read weekly"],
        "published": {"default": ["UserRegistered"], "newsletter": ["Subscribed"]},
        "front_page": "First words",
    }

    # 8. The old copy is dropped, as a step of its own; nothing is left to warn about.
    project.must("movedata", "newsletter", "--drop")
    assert not set(databases.tables("default")) & {*NEWSLETTER_TABLES, M2M_TABLE}
    assert "modulith.W031" not in project.manage("check").stderr
    own_tests_pass(project)
    rows = rows_kept(databases, rows)

    # 9. newsletter can be extracted (its many-to-many table goes with it); accounts cannot.
    assert M2M_TABLE in project.must("extract", "newsletter")
    refusal = project.manage("extract", "accounts")
    assert refusal.returncode == 1
    assert (
        refusal.stderr.strip()
        .splitlines()[-1]
        .startswith("CommandError: accounts lives in the shared database 'default', tied to it by ")
    )


def own_tests_pass(project: LegacyProject, *args: str) -> None:
    result = project.own_tests(*args)
    assert result.returncode == 0, result.stdout + result.stderr


def all_rows(databases: Databases) -> dict[str, Rows]:
    names = ["default", *(["newsletter"] if "newsletter" in databases.made else [])]
    return {name: databases.rows(name) for name in names}


def rows_kept(databases: Databases, before: dict[str, Rows]) -> dict[str, Rows]:
    """Every row of the project's tables there was is still there (in whichever database holds
    the table now). The framework's own rows change as they should (a delivery delivered)."""
    now = all_rows(databases)
    for table, counted in before["default"].items():
        if table.startswith("modulith_"):
            continue
        held = sum((rows[table] for rows in now.values() if table in rows), Counter[str]())
        missing = counted - held
        assert not missing, f"{sum(missing.values())} row(s) of {table} are gone"
    return now


def remaining_imports(output: str) -> int:
    return int(output.split(" import(s) across", 1)[0].rsplit("\n", 1)[-1])


def lint_imports(project: LegacyProject) -> subprocess.CompletedProcess[str]:
    return project.tool("lint-imports")


def reported(text: str) -> dict[str, set[tuple[str, str]]]:
    """The report's ties, by module: (kind, what), a query's what being its test."""
    ties: dict[str, set[tuple[str, str]]] = {}
    module = ""
    for line in text.splitlines():
        if not line.startswith(" "):
            module = line.split(" ", 1)[0]
            ties[module] = set()
        elif line.startswith("  - "):
            kind, what = line[4:].split(": ", 1)
            ties[module].add((kind, what.rsplit(" in ", 1)[1] if "across" in kind else what))
    return ties
