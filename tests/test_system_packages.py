"""`make test` installs every Debian package a test asks for (.ci/system-packages, the one
list it and CI use), and no test skips because something is not installed."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LISTS = re.compile(r"^(SUITE|CONTAINER)_PACKAGES=\(([^)]*)\)", re.MULTILINE)
ASKED = re.compile(r'program\(\s*"[^"]+",\s*"([^"]+)"\s*\)')
SKIPS_FOR_WHAT_IS_MISSING = re.compile(r"importorskip\(|skipif\(\s*shutil\.which")


def sources() -> dict[Path, str]:
    return {path: path.read_text() for path in (ROOT / "tests").rglob("*.py")}


def test_every_package_a_test_asks_for_is_one_make_test_installs() -> None:
    listed = {
        package
        for _, packages in LISTS.findall((ROOT / ".ci" / "system-packages").read_text())
        for package in packages.split()
    }
    asked = {package for text in sources().values() for package in ASKED.findall(text)}

    assert asked, "no test asks for a program: the pattern above is out of date"
    assert asked - listed == set()


def test_no_test_skips_because_a_program_or_package_is_missing() -> None:
    skipping = [
        str(path.relative_to(ROOT))
        for path, text in sources().items()
        if path != Path(__file__) and SKIPS_FOR_WHAT_IS_MISSING.search(text)
    ]

    assert skipping == []
