"""The core alone runs the in-process monolith; a setting that needs an extra that is missing
stops the process with one line naming the extra.

Here, in this environment (where every extra is installed), a library counts as missing when
its import is blocked; tests/modulith/test_distribution.py does the same in a venv that has
the core alone.
"""

import subprocess
import sys
from pathlib import Path

import pytest

from tests import fresh_project
from tests.fresh_project import EXTRA_MODULES
from tests.processes import ROOT, run_python

PYTHON = Path(sys.executable)
FRAMEWORK_ONLY = {"PYTHONPATH": str(ROOT / "platform")}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = fresh_project.create(tmp_path_factory.mktemp("fresh") / "mysite", PYTHON)
    migrated = fresh_project.run(root, PYTHON, "manage.py", "migrate_modules", env=FRAMEWORK_ONLY)
    assert migrated.returncode == 0, migrated.stderr
    return root


def report(result: subprocess.CompletedProcess[str]) -> dict[str, str]:
    """What publish.py printed, by the first word of each line."""
    assert result.returncode == 0, result.stderr
    return dict(line.split(" ", 1) for line in result.stdout.splitlines())


def test_the_in_process_monolith_imports_no_optional_library_but_the_metrics(project: Path):
    """Publishing, relaying, dispatching, the API and the admin: prometheus-client, installed
    here, is the only optional library imported (the metrics use it when it is there)."""
    printed = report(fresh_project.run(project, PYTHON, "publish.py", env=FRAMEWORK_ONLY))

    assert printed["handled"] == "P-1"
    assert (printed["api"], printed["admin"]) == ("200", "200")
    assert printed["metrics"].startswith("200 ")
    assert printed["imported"] == "prometheus_client"


def test_without_any_extra_the_monolith_publishes_and_handles(project: Path) -> None:
    result = fresh_project.run(
        project, PYTHON, "publish.py", blocked=EXTRA_MODULES, env=FRAMEWORK_ONLY
    )

    printed = report(result)
    assert printed["handled"] == "P-1"
    assert (printed["api"], printed["admin"]) == ("200", "200")
    assert printed["imported"] == ""


def test_without_prometheus_client_metrics_answer_404_naming_the_extra(project: Path) -> None:
    result = fresh_project.run(
        project, PYTHON, "publish.py", blocked=["prometheus_client"], env=FRAMEWORK_ONLY
    )

    assert report(result)["metrics"] == (
        "404 metrics need prometheus-client: pip install 'django-modulith[prometheus]'"
    )


# (what the settings ask for, what is missing, the line)
MISSING = {
    "sqs-without-boto3": (
        {"MODULITH_TRANSPORT": "sqs"},
        ["boto3"],
        "MODULITH_TRANSPORT=sqs needs boto3: pip install 'django-modulith[aws]'",
    ),
    "eventbridge-without-boto3": (
        {"MODULITH_TRANSPORT": "eventbridge"},
        ["boto3"],
        "MODULITH_TRANSPORT=eventbridge needs boto3: pip install 'django-modulith[aws]'",
    ),
    "sns-without-boto3": (
        {"MODULITH_TRANSPORT": "sns"},
        ["boto3"],
        "MODULITH_TRANSPORT=sns needs boto3: pip install 'django-modulith[aws]'",
    ),
    "celery-handlers-without-celery": (
        {"MODULITH_ASYNC_HANDLERS": "celery"},
        ["celery"],
        "MODULITH_ASYNC_HANDLERS=celery needs celery: pip install 'django-modulith[celery]'",
    ),
    "spans-without-the-sdk": (
        {"MODULITH_OTEL": "1"},
        ["opentelemetry"],
        "MODULITH_OTEL=1 needs opentelemetry-sdk: pip install 'django-modulith[otel]'",
    ),
    "postgres-without-psycopg": (
        {"SHIPPING_DATABASE_URL": "postgres://shop:secret@127.0.0.1:1/shipping"},
        ["psycopg", "psycopg2"],
        "the shipping database on PostgreSQL needs psycopg: "
        "pip install 'django-modulith[postgres]'",
    ),
}


@pytest.mark.parametrize(("env", "blocked", "line"), MISSING.values(), ids=MISSING.keys())
def test_a_setting_whose_extra_is_missing_stops_check_with_one_line(
    project: Path, env: dict[str, str], blocked: list[str], line: str
) -> None:
    result = fresh_project.run(
        project, PYTHON, "manage.py", "check", blocked=blocked, env={**FRAMEWORK_ONLY, **env}
    )

    assert result.returncode != 0
    assert result.stderr.splitlines() == [f"configuration error: {line}"], result.stderr


def test_provision_without_boto3_is_one_line(project: Path) -> None:
    result = fresh_project.run(
        project, PYTHON, "manage.py", "provision", blocked=["boto3"], env=FRAMEWORK_ONLY
    )

    assert result.returncode != 0
    assert result.stderr.splitlines() == [
        "configuration error: manage.py provision needs boto3: pip install 'django-modulith[aws]'"
    ], result.stderr


def test_remote_query_ports_without_httpx_are_one_line() -> None:
    """orders alone, calling inventory's and payments' ports over HTTP (the shop's settings)."""
    result = run_python(
        "import sys\nsys.modules['httpx'] = None\nimport django\ndjango.setup()\n",
        DJANGO_SETTINGS_MODULE="config.settings",
        MODULITH_MODULES="orders",
        MODULITH_TRANSPORT="sqs",
        AWS_DEFAULT_REGION="eu-west-1",
        MODULITH_INTERNAL_SECRET="a-secret-of-the-services",
        MODULITH_SERVICE_URLS="inventory=http://inventory:8000",
    )

    assert result.returncode != 0
    assert result.stderr.splitlines() == [
        "configuration error: calling the query ports of inventory over HTTP needs httpx: "
        "pip install 'django-modulith[remote]'"
    ], result.stderr


def test_any_other_uncaught_error_keeps_its_traceback() -> None:
    result = run_python(
        "from modulith.conf import excepthook\nexcepthook.install()\nraise ValueError('not ours')\n"
    )

    assert result.returncode == 1
    assert "Traceback" in result.stderr
    assert result.stderr.splitlines()[-1] == "ValueError: not ours"
