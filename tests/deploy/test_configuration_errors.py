"""A configuration error stops the process with one clear line, never a traceback."""

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.processes import environment_without_settings, free_port

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SECRET = "some-long-test-secret-that-is-only-used-by-this-test"

# (environment, the variable the message must name)
CASES = {
    "debug-off-without-secret-key": ({"DJANGO_DEBUG": "0"}, "DJANGO_SECRET_KEY"),
    # Blank is unset: DEBUG is off unless development asks for it.
    "debug-unset-without-secret-key": ({"DJANGO_DEBUG": ""}, "DJANGO_SECRET_KEY"),
    "unknown-module": ({"MODULITH_MODULES": "orders,nonsense"}, "MODULITH_MODULES"),
    "unknown-transport": ({"MODULITH_TRANSPORT": "carrier-pigeon"}, "MODULITH_TRANSPORT"),
    "unknown-handler-mode": ({"MODULITH_ASYNC_HANDLERS": "someday"}, "MODULITH_ASYNC_HANDLERS"),
    "max-attempts-not-a-number": ({"MODULITH_MAX_ATTEMPTS": "abc"}, "MODULITH_MAX_ATTEMPTS"),
    "debug-not-a-boolean": ({"DJANGO_DEBUG": "maybe"}, "DJANGO_DEBUG"),
    "database-url-not-a-url": ({"ORDERS_DATABASE_URL": "nonsense"}, "ORDERS_DATABASE_URL"),
}

# A manifest or an app that names something that cannot work, planted in a copy of the
# project: (the file, what it says, what it says instead, the check's id and message).
PLANTED = {
    "handler-not-importable": (
        "modules/payments/module.py",
        "modules.payments.handlers.on_stock_reserved",
        "modules.payments.handlers.on_stock_reservd",
        "modulith.E001",
        "payments handles StockReserved with modules.payments.handlers.on_stock_reservd, which "
        "cannot be imported: module 'modules.payments.handlers' has no attribute "
        "'on_stock_reservd'",
    ),
    "provider-not-importable": (
        "modules/orders/module.py",
        "modules.orders.queries.OrderQueriesImpl",
        "modules.orders.querys.OrderQueriesImpl",
        "modulith.E001",
        "orders provides OrderQueries with modules.orders.querys.OrderQueriesImpl, which cannot "
        "be imported: No module named 'modules.orders.querys'",
    ),
    "app-label-not-the-module-name": (
        "modules/payments/apps.py",
        'label = "payments"',
        'label = "billing"',
        "modulith.E007",
        "payments's app modules.payments has the label 'billing'",
    ),
}


def environment(var_dir: Path, **overrides: str) -> dict[str, str]:
    """This environment without the project's own settings, in development (DEBUG on), then
    the case's."""
    inherited = environment_without_settings()
    return {
        **inherited,
        "PATH": f"{BIN}{os.pathsep}{inherited.get('PATH', '')}",
        "MODULITH_VAR_DIR": str(var_dir),
        "XDG_RUNTIME_DIR": str(var_dir),
        "DJANGO_DEBUG": "1",
        **overrides,
    }


def test_the_valid_environment_passes(tmp_path: Path) -> None:
    """The baseline of the cases below: without their one change, `check` succeeds."""
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(("overrides", "variable"), CASES.values(), ids=CASES.keys())
def test_manage_py_reports_one_line(tmp_path: Path, overrides: dict[str, str], variable: str):
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=environment(tmp_path, **overrides),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("configuration error:"), result.stderr
    assert variable in lines[0]
    assert "Traceback" not in result.stderr + result.stdout


# A process that serves the public API refuses the development key with DEBUG off; one that
# serves none (a consumer, a relay, a migration) is given no API key at all.
DEVELOPMENT_KEY = {
    "by-default": {"DJANGO_DEBUG": "0", "DJANGO_SECRET_KEY": SECRET},
    "listed": {
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": SECRET,
        "MODULITH_API_KEYS": "k,dev-api-key",
    },
}


@pytest.mark.parametrize("overrides", DEVELOPMENT_KEY.values(), ids=DEVELOPMENT_KEY.keys())
def test_the_deployment_check_refuses_the_development_api_key_with_debug_off(
    tmp_path: Path, overrides: dict[str, str]
) -> None:
    deploy = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--tag", "modulith"],
        cwd=ROOT,
        env=environment(tmp_path, **overrides),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    worker = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=environment(tmp_path, **overrides),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert deploy.returncode == 1, deploy.stderr
    assert "(modulith.E011) MODULITH_API_KEYS holds the development key" in deploy.stderr
    assert worker.returncode == 0, worker.stderr


def planted_project(tmp_path: Path, path: str, says: str, instead: str) -> Path:
    """A copy of the project whose file at `path` says `instead` where it said `says`."""
    project = tmp_path / "project"
    shutil.copytree(
        ROOT, project, ignore=shutil.ignore_patterns(".venv", "var", ".git", "__pycache__")
    )
    planted = project / path
    assert says in planted.read_text()
    planted.write_text(planted.read_text().replace(says, instead))
    return project


def copy_environment(var_dir: Path) -> dict[str, str]:
    env = environment(var_dir)
    env.pop("PYTHONPATH", None)  # the copy's own code, not this checkout's
    return env


@pytest.mark.parametrize(
    ("path", "says", "instead", "check", "message"), PLANTED.values(), ids=PLANTED.keys()
)
def test_a_manifest_naming_what_cannot_work_fails_manage_py_check(
    tmp_path: Path, path: str, says: str, instead: str, check: str, message: str
) -> None:
    project = planted_project(tmp_path, path, says, instead)

    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=project,
        env=copy_environment(tmp_path / "var"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 1, result.stderr
    assert f"({check}) {message}\n\tHINT: " in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


@pytest.mark.slow
@pytest.mark.parametrize(
    ("path", "says", "instead", "check", "message"), PLANTED.values(), ids=PLANTED.keys()
)
def test_a_manifest_naming_what_cannot_work_stops_gunicorn_with_one_line(
    tmp_path: Path, path: str, says: str, instead: str, check: str, message: str
) -> None:
    """gunicorn runs no system checks: the WSGI entry point runs modulith's."""
    project = planted_project(tmp_path, path, says, instead)

    returncode, output = gunicorn(project, copy_environment(tmp_path / "var"))

    assert returncode != 0, output
    errors = [line for line in output.splitlines() if line.startswith("configuration error:")]
    assert errors == [f"configuration error: {check} {message}"], output
    assert "Traceback" not in output


@pytest.mark.slow
@pytest.mark.parametrize(
    "case",
    [
        "debug-off-without-secret-key",
        "unknown-transport",
        "max-attempts-not-a-number",
        "debug-off-with-development-api-key",
    ],
)
def test_gunicorn_stops_with_the_line(tmp_path: Path, case: str) -> None:
    """The settings fail in the worker, while it loads the application: gunicorn must give up
    rather than boot a new worker again and again."""
    overrides, variable = {
        **CASES,
        "debug-off-with-development-api-key": (DEVELOPMENT_KEY["by-default"], "MODULITH_API_KEYS"),
    }[case]

    returncode, output = gunicorn(ROOT, environment(tmp_path, **overrides))

    assert returncode != 0, output
    errors = [line for line in output.splitlines() if line.startswith("configuration error:")]
    assert errors, output
    assert variable in errors[0]
    assert "Traceback" not in output


def gunicorn(project: Path, env: dict[str, str]) -> tuple[int, str]:
    """Starts gunicorn on the project's WSGI application; its exit status and output, once
    it has given up (within 30 s, or the test fails)."""
    process = subprocess.Popen(
        [
            str(BIN / "gunicorn"),
            "config.wsgi:application",
            "--bind",
            f"127.0.0.1:{free_port()}",
            "--workers",
            "1",
        ],
        cwd=project,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate(timeout=10)
        pytest.fail(f"gunicorn was still running after 30 s:\n{output[-3000:]}")
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    return process.returncode, output
