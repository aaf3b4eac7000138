"""A project of `django-admin startproject`'s making adopts modulith: installed with nothing
else set and no modulith API served, its checks and its tests pass (with DEBUG off); given the
settings of docs/settings.md, `startmodule` puts a new module where the project keeps its apps,
without the shop's pyproject.toml or `modules/` package, and its generated tests pass."""

import sys
from pathlib import Path

import pytest

from tests import fresh_project

pytestmark = pytest.mark.slow

PYTHON = Path(sys.executable)
PYTEST_INI = "[pytest]\nDJANGO_SETTINGS_MODULE = mysite.settings\naddopts = -p no:cacheprovider\n"
A_TEST = """import pytest
from django.contrib.auth.models import User


@pytest.mark.django_db
def test_a_user_is_stored() -> None:
    User.objects.create(username="ada")

    assert User.objects.count() == 1
"""


def started(root: Path, settings: str) -> Path:
    fresh_project.start(root, PYTHON)
    with (root / "mysite" / "settings.py").open("a", encoding="utf-8") as file:
        file.write(settings)
    (root / "pytest.ini").write_text(PYTEST_INI, encoding="utf-8")
    return root


def passes(root: Path, *args: str) -> str:
    result = fresh_project.run(root, PYTHON, *args, env={"PYTHONPATH": str(root)}, timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_modulith_installed_with_nothing_set_checks_and_tests_with_debug_off(
    tmp_path: Path,
) -> None:
    root = started(
        tmp_path / "mysite",
        '\nINSTALLED_APPS += ["modulith"]\nDEBUG = False\nALLOWED_HOSTS = ["localhost"]\n',
    )
    (root / "tests").mkdir()
    (root / "tests" / "test_users.py").write_text(A_TEST, encoding="utf-8")

    assert "no issues" in passes(root, "manage.py", "check")
    assert "1 passed" in passes(root, "-m", "pytest", "-q", "tests")


def test_startmodule_puts_a_new_module_beside_the_projects_apps(tmp_path: Path) -> None:
    root = started(
        tmp_path / "mysite",
        fresh_project.MODULITH_SETTINGS.replace('"shipping.module.manifest"', ""),
    )
    with (root / "mysite" / "urls.py").open("a", encoding="utf-8") as file:
        file.write(fresh_project.URLS)

    created = passes(root, "manage.py", "startmodule", "parcels", "--model", "Parcel")

    assert "manage.py boundaries writes one" in created  # no import-linter contract here
    for path in (
        "parcels/module.py",
        "parcels/migrations/0001_initial.py",
        "parcels/tests/test_parcels.py",
        "contracts/__init__.py",
        "contracts/parcels.py",
    ):
        assert (root / path).is_file(), path
    assert not (root / "modules").exists()
    assert '"parcels.module.manifest"' in (root / "mysite" / "settings.py").read_text()
    passes(root, "manage.py", "migrate_modules")
    assert "passed" in passes(root, "-m", "pytest", "-q", "parcels/tests")
