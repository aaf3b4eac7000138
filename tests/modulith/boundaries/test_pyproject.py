"""The boundaries contract in pyproject.toml: written between its marker lines, the rest of the
file as it was, and read back."""

import tomllib

import pytest

from modulith.boundaries import Baseline, with_contract, written_baseline
from modulith.errors import ConfigurationError

BASELINE = Baseline(units=("accounts", "blog"), ignored=("blog.views -> accounts.models",))
THEIRS = '[project]\nname = "legacy"\n\n[tool.ruff]\nline-length = 99\n'


def test_the_contract_is_added_and_the_rest_of_the_file_kept() -> None:
    written = with_contract(THEIRS, BASELINE)

    assert written.startswith(THEIRS)
    data = tomllib.loads(written)
    assert data["tool"]["ruff"] == {"line-length": 99}
    assert data["tool"]["importlinter"]["root_packages"] == ["accounts", "blog"]
    [contract] = data["tool"]["importlinter"]["contracts"]
    assert contract["type"] == "independence"
    assert contract["modules"] == ["accounts", "blog"]
    assert contract["unmatched_ignore_imports_alerting"] == "error"
    assert written_baseline(written) == {"blog.views -> accounts.models"}


def test_writing_again_replaces_the_contract_and_nothing_else() -> None:
    smaller = Baseline(units=BASELINE.units, ignored=())

    rewritten = with_contract(with_contract(THEIRS, BASELINE), smaller)

    assert rewritten == with_contract(THEIRS, smaller)
    assert written_baseline(rewritten) == set()


def test_a_project_s_own_import_linter_root_must_hold_the_units() -> None:
    own = THEIRS + '\n[tool.importlinter]\nroot_packages = ["accounts"]\n'

    with pytest.raises(ConfigurationError, match=r"^add blog to \[tool.importlinter\] root"):
        with_contract(own, BASELINE)


def test_a_contract_of_the_same_id_written_by_hand_is_not_overwritten() -> None:
    own = THEIRS + (
        '\n[tool.importlinter]\nroot_packages = ["accounts", "blog"]\n\n'
        '[[tool.importlinter.contracts]]\nid = "modulith-boundaries"\nname = "mine"\n'
        'type = "independence"\nmodules = ["accounts", "blog"]\n'
    )

    with pytest.raises(ConfigurationError, match=r"outside the lines manage\.py boundaries"):
        with_contract(own, BASELINE)


def test_the_baseline_counts_imports_by_pair_of_units() -> None:
    baseline = Baseline(
        units=("accounts", "blog", "blog.admin"),
        ignored=(
            "blog.views -> accounts.models",
            "blog.urls -> accounts.views",
            "blog.admin.site -> accounts.models",
        ),
    )

    assert baseline.by_pair() == {"blog -> accounts": 2, "blog.admin -> accounts": 1}
