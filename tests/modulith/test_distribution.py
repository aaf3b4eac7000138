"""platform/ is the framework's distribution: its wheel holds `modulith` alone, with what the
framework reads at run time, and depends on the core (Django, django-ninja, pydantic); each
optional library is an extra. Installed alone in a new venv, it runs a brand-new Django
project's module; a setting needing a missing extra is one line naming it.
"""

import configparser
import email.parser
import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterable
from email.message import Message
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from tests import fresh_project
from tests.fresh_project import EXTRA_MODULES
from tests.processes import ROOT

pytestmark = pytest.mark.slow

CORE = {"django", "django-ninja", "pydantic"}
EXTRAS = {
    "aws": {"boto3"},
    "boundaries": {"import-linter"},
    "celery": {"celery"},
    "lambda": {"awslambdaric", "apig-wsgi"},
    "otel": {"opentelemetry-api", "opentelemetry-sdk"},
    "postgres": {"psycopg"},
    "prometheus": {"prometheus-client"},
    "remote": {"httpx"},
    "testing": {"pytest", "pytest-django"},
}
BUILD_LEFTOVERS = shutil.ignore_patterns("__pycache__", "*.egg-info", "build")
RUN_TIME_FILES = [
    "modulith/templates/modulith/admin/index.html",
    "modulith/templates/modulith/admin/module_map.html",
    "modulith/static/modulith/admin.css",
    "modulith/static/modulith/module-map.js",
    "modulith/static/modulith/mermaid.min.js",
    "modulith/static/modulith/mermaid.LICENSE",
    "modulith/scaffold_templates/module/module.py.tmpl",
    "modulith/scaffold_templates/tests/test_module.py.tmpl",
    "modulith/migrations/0001_initial.py",
]


def pip(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def build_wheel(source: Path, names: Iterable[str], into: Path) -> Path:
    """The wheel of the distribution at `source`, built from a copy of these of its files (so
    that the build leaves nothing in the tree, and needs nothing else)."""
    copy = into / "source"
    copy.mkdir()
    names = list(names)
    for name in set(names) - BUILD_LEFTOVERS(str(source), names):
        if (source / name).is_dir():
            shutil.copytree(source / name, copy / name, ignore=BUILD_LEFTOVERS)
        else:
            shutil.copy2(source / name, copy / name)
    pip("wheel", "--no-deps", "--no-build-isolation", "--quiet", "-w", str(into), str(copy))
    [wheel] = into.glob("*.whl")
    return wheel


def metadata(wheel: Path) -> Message:
    with zipfile.ZipFile(wheel) as archive:
        [name] = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        return email.parser.Parser().parsestr(archive.read(name).decode())


def requirements_by_extra(meta: Message) -> dict[str, set[str]]:
    """The names of the requirements, by extra ("" for the core)."""
    found: dict[str, set[str]] = {}
    for line in meta.get_all("Requires-Dist") or []:
        requirement = Requirement(line)
        marker = str(requirement.marker or "")
        extra = marker.split("==")[1].strip().strip("\"'") if "extra" in marker else ""
        found.setdefault(extra, set()).add(requirement.name)
    return found


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    framework = ROOT / "platform"
    return build_wheel(framework, os.listdir(framework), tmp_path_factory.mktemp("wheel"))


@pytest.fixture(scope="module")
def core_python(tmp_path_factory: pytest.TempPathFactory, wheel: Path) -> Path:
    """A new venv holding the wheel and its core dependencies, nothing else."""
    venv = tmp_path_factory.mktemp("core") / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(venv)],
        check=True,
        timeout=120,
    )
    python = venv / "bin" / "python"
    pip("--python", str(python), "install", "--quiet", str(wheel))
    return python


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, core_python: Path) -> Path:
    return fresh_project.create(tmp_path_factory.mktemp("fresh") / "mysite", core_python)


def test_the_wheel_holds_modulith_and_what_it_reads_at_run_time(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()

    tops = {name.split("/")[0] for name in names}
    assert tops == {"modulith", "django_modulith-0.1.0.dist-info"}, tops
    assert not [name for name in names if name.startswith("modulith/static-src/")]
    for expected in RUN_TIME_FILES:
        assert expected in names, expected


def test_the_wheel_depends_on_the_core_and_names_each_extra(wheel: Path) -> None:
    meta = metadata(wheel)

    assert meta["Name"] == "django-modulith"
    assert set(meta.get_all("Provides-Extra") or []) == set(EXTRAS)
    assert requirements_by_extra(meta) == {"": CORE, **EXTRAS}


def test_the_wheel_registers_the_pytest_plugin(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        [name] = [n for n in archive.namelist() if n.endswith(".dist-info/entry_points.txt")]
        entry_points = configparser.ConfigParser()
        entry_points.read_string(archive.read(name).decode())

    assert dict(entry_points["pytest11"]) == {"modulith.testing": "modulith.testing"}


def test_the_shop_is_a_distribution_of_its_own_on_the_framework(tmp_path: Path) -> None:
    shop = build_wheel(
        ROOT, ["pyproject.toml", "README.md", "config", "contracts", "modules"], tmp_path
    )
    with zipfile.ZipFile(shop) as archive:
        tops = {name.split("/")[0] for name in archive.namelist()}
    meta = metadata(shop)

    assert tops == {"config", "contracts", "modules", "modulith_shop-0.1.0.dist-info"}, tops
    [framework] = [
        requirement
        for requirement in map(Requirement, meta.get_all("Requires-Dist") or [])
        if requirement.name == "django-modulith" and requirement.marker is None
    ]
    assert framework.extras == {
        "aws",
        "celery",
        "lambda",
        "otel",
        "postgres",
        "prometheus",
        "remote",
    }


def test_the_core_venv_has_none_of_the_optional_libraries(core_python: Path) -> None:
    probe = subprocess.run(
        [
            str(core_python),
            "-c",
            "import importlib.util\n"
            f"print(','.join(m for m in {EXTRA_MODULES!r} if importlib.util.find_spec(m)))",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )

    assert probe.stdout.strip() == ""


def test_a_new_project_checks_migrates_publishes_and_handles_with_the_core_alone(
    project: Path, core_python: Path
) -> None:
    checked = fresh_project.run(project, core_python, "manage.py", "check")
    assert checked.returncode == 0, checked.stderr
    migrated = fresh_project.run(project, core_python, "manage.py", "migrate_modules")
    assert migrated.returncode == 0, migrated.stderr

    published = fresh_project.run(project, core_python, "publish.py")

    assert published.returncode == 0, published.stderr
    printed = dict(line.split(" ", 1) for line in published.stdout.splitlines())
    assert printed["handled"] == "P-1"
    assert (printed["api"], printed["admin"]) == ("200", "200")
    assert printed["metrics"] == (
        "404 metrics need prometheus-client: pip install 'django-modulith[prometheus]'"
    )
    logged = [json.loads(line) for line in published.stderr.splitlines() if line.startswith("{")]
    handled = [line for line in logged if line["message"] == "handled ParcelSent"]
    assert [(line["module"], line["level"]) for line in handled] == [("shipping", "INFO")]


def test_a_transport_whose_extra_is_missing_is_one_line(project: Path, core_python: Path):
    result = fresh_project.run(
        project, core_python, "manage.py", "check", env={"MODULITH_TRANSPORT": "sqs"}
    )

    assert result.returncode != 0
    assert result.stderr.splitlines() == [
        "configuration error: MODULITH_TRANSPORT=sqs needs boto3: "
        "pip install 'django-modulith[aws]'"
    ], result.stderr
    assert "Traceback" not in result.stdout + result.stderr
