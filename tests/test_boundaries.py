"""The module boundaries (docs/architecture.md, "Boundaries"), as specifications.

The boundaries are import-linter contracts in pyproject.toml. These tests check that the real
tree keeps them, that each contract can fail (a violation planted in a copy of the tree breaks
it), that no module escapes them, and that `platform/` never shadows the standard library.
"""

import ast
import os
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCE_DIRS = ("config", "contracts", "modules", "platform")
INDEPENDENCE = "modules-independent"


def lint_imports_executable() -> str:
    beside_python = Path(sys.executable).with_name("lint-imports")
    found = str(beside_python) if beside_python.is_file() else shutil.which("lint-imports")
    assert found, "lint-imports is not installed: make install"
    return found


def importlinter_contracts(root: Path) -> list[dict[str, Any]]:
    with (root / "pyproject.toml").open("rb") as file:
        contracts: list[dict[str, Any]] = tomllib.load(file)["tool"]["importlinter"]["contracts"]
    return contracts


def contract_named(root: Path, contract_id: str) -> dict[str, Any]:
    for contract in importlinter_contracts(root):
        if contract["id"] == contract_id:
            return contract
    raise AssertionError(f"pyproject.toml has no import-linter contract with id {contract_id!r}")


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """Runs lint-imports on the tree at `root`, and on nothing else: the project is also
    installed in editable mode, so the tree's own paths must come first on the import path."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(root), str(root / "platform")]),
        "COLUMNS": "1000",  # rich wraps long contract names at 80 columns otherwise
        "NO_COLOR": "1",
    }
    return subprocess.run(
        [lint_imports_executable(), "--no-cache", "--no-logo"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def copy_source_tree(destination: Path) -> Path:
    """The Python sources and pyproject.toml, nothing else (no venv, no databases)."""
    ignore = shutil.ignore_patterns("__pycache__", ".venv", "var", "*.pyc")
    for name in SOURCE_DIRS:
        shutil.copytree(ROOT / name, destination / name, ignore=ignore)
    shutil.copy2(ROOT / "pyproject.toml", destination / "pyproject.toml")
    return destination


def append(path: Path, code: str) -> None:
    assert path.is_file(), f"{path} is gone: plant the violation in another file"
    with path.open("a", encoding="utf-8") as file:
        file.write("\n\n" + code)


# The real tree keeps every contract.


def test_the_real_tree_keeps_every_import_contract() -> None:
    result = lint_imports(ROOT)
    output = result.stdout + result.stderr

    assert result.returncode == 0, output
    contracts = importlinter_contracts(ROOT)
    assert contracts, "pyproject.toml declares no import-linter contract"
    for contract in contracts:
        assert f"{contract['name']} KEPT" in output, output
    assert f"Contracts: {len(contracts)} kept, 0 broken." in output, output


# Each contract can fail.


@dataclass(frozen=True)
class Violation:
    file: str
    code: str
    contract_id: str
    importer: str  # the module lint-imports must name as the offender


VIOLATIONS = [
    pytest.param(
        Violation(
            file="modules/orders/services.py",
            code="from modules.payments.models import Payment\n",
            contract_id=INDEPENDENCE,
            importer="modules.orders.services",
        ),
        id="a-module-imports-another-at-top-level",
    ),
    pytest.param(
        Violation(
            file="modules/inventory/services.py",
            code=(
                "def _order_of(order_id):\n"
                "    from modules.orders.models import Order\n"
                "\n"
                '    return Order.objects.using("orders").get(id=order_id)\n'
            ),
            contract_id=INDEPENDENCE,
            importer="modules.inventory.services",
        ),
        id="a-module-imports-another-lazily-inside-a-function",
    ),
    pytest.param(
        Violation(
            file="contracts/inventory.py",
            code="from django.utils import timezone\n",
            contract_id="contracts-pure",
            importer="contracts.inventory",
        ),
        id="contracts-import-django",
    ),
    pytest.param(
        Violation(
            file="contracts/orders.py",
            code="from modulith.bus import publish\n",
            contract_id="contracts-pure",
            importer="contracts.orders",
        ),
        id="contracts-import-the-framework",
    ),
    pytest.param(
        Violation(
            file="contracts/payments.py",
            code="from modulith.contracts.base import ContractModel\n",
            contract_id="contracts-pure",
            importer="contracts.payments",
        ),
        id="contracts-import-the-framework-bases-past-their-public-package",
    ),
    pytest.param(
        Violation(
            file="platform/modulith/contracts/base.py",
            code="from django.utils import timezone\n",
            contract_id="modulith-contracts-pure",
            importer="modulith.contracts.base",
        ),
        id="the-framework-contracts-import-django",
    ),
    pytest.param(
        Violation(
            file="platform/modulith/contracts/errors.py",
            code="from modulith.modules.errors import DomainError\n",
            contract_id="modulith-contracts-pure",
            importer="modulith.contracts.errors",
        ),
        id="the-framework-contracts-import-the-rest-of-the-framework",
    ),
    pytest.param(
        Violation(
            file="platform/modulith/ports/local.py",
            code="from contracts.inventory import InventoryQueries\n",
            contract_id="framework-knows-no-shop",
            importer="modulith.ports.local",
        ),
        id="the-framework-imports-contracts",
    ),
    pytest.param(
        Violation(
            file="platform/modulith/modules/topology.py",
            code="from modules.orders.models import Order\n",
            contract_id="framework-knows-no-shop",
            importer="modulith.modules.topology",
        ),
        id="the-framework-imports-a-module",
    ),
    pytest.param(
        Violation(
            file="modules/payments/services.py",
            code="from config import celery_app\n",
            contract_id="nothing-imports-config",
            importer="modules.payments.services",
        ),
        id="a-module-imports-config",
    ),
    pytest.param(
        Violation(
            file="platform/modulith/runtime/bootstrap.py",
            code="from modulith.aws.transports.sqs import SqsTransport\n",
            contract_id="transports-are-plug-ins",
            importer="modulith.runtime.bootstrap",
        ),
        id="the-composition-root-imports-an-aws-transport-instead-of-finding-it-by-name",
    ),
    pytest.param(
        Violation(
            file="platform/modulith/bus/publisher.py",
            code="from modulith.outbox.relay import Relay\n",
            contract_id="framework-layers",
            importer="modulith.bus.publisher",
        ),
        id="the-bus-imports-the-outbox-above-it",
    ),
]


@pytest.mark.parametrize("violation", VIOLATIONS)
def test_each_import_contract_fails_on_a_planted_violation(
    tmp_path: Path, violation: Violation
) -> None:
    tree = copy_source_tree(tmp_path)
    append(tree / violation.file, violation.code)

    result = lint_imports(tree)
    output = result.stdout + result.stderr

    assert result.returncode != 0, output
    name = contract_named(tree, violation.contract_id)["name"]
    assert f"{name} BROKEN" in output, output
    assert f"{violation.importer} -> " in output, output


# No module escapes the independence contract.


@dataclass
class ModuleCoverage:
    unlisted: set[str] = field(default_factory=set)  # packages under modules/ not in the contract
    nonexistent: set[str] = field(default_factory=set)  # listed, but no such package
    not_packages: set[str] = field(default_factory=set)  # Python code lint-imports never reads

    @property
    def complete(self) -> bool:
        return not (self.unlisted or self.nonexistent or self.not_packages)


def independence_coverage(root: Path) -> ModuleCoverage:
    """Compares the folders under modules/ with the modules the independence contract lists."""
    modules_dir = root / "modules"
    folders = [
        path for path in modules_dir.iterdir() if path.is_dir() and path.name != "__pycache__"
    ]
    packages = {path.name for path in folders if (path / "__init__.py").is_file()}
    listed = set(contract_named(root, INDEPENDENCE)["modules"])
    return ModuleCoverage(
        unlisted={name for name in packages if f"modules.{name}" not in listed},
        nonexistent={
            dotted for dotted in listed if dotted.removeprefix("modules.") not in packages
        },
        # A folder without __init__.py is a namespace package: importable, yet invisible to
        # lint-imports, so its imports would never be checked.
        not_packages={
            path.name for path in folders if path.name not in packages and any(path.rglob("*.py"))
        },
    )


def test_every_module_is_in_the_independence_contract_and_nothing_else_is() -> None:
    coverage = independence_coverage(ROOT)

    assert coverage.complete, coverage


def test_a_module_missing_from_the_independence_contract_is_reported(tmp_path: Path) -> None:
    tree = copy_source_tree(tmp_path)
    (tree / "modules" / "shipping").mkdir()
    (tree / "modules" / "shipping" / "__init__.py").write_text('"""Shipping."""\n')

    coverage = independence_coverage(tree)

    assert coverage.unlisted == {"shipping"}
    assert not coverage.complete


def test_a_listed_module_that_does_not_exist_is_reported(tmp_path: Path) -> None:
    tree = copy_source_tree(tmp_path)
    shutil.rmtree(tree / "modules" / "payments")

    coverage = independence_coverage(tree)

    assert coverage.nonexistent == {"modules.payments"}
    assert not coverage.complete


def test_a_module_folder_without_init_is_reported(tmp_path: Path) -> None:
    tree = copy_source_tree(tmp_path)
    (tree / "modules" / "shipping").mkdir()
    (tree / "modules" / "shipping" / "services.py").write_text("from modules.orders import api\n")

    coverage = independence_coverage(tree)

    assert coverage.not_packages == {"shipping"}
    assert not coverage.complete


# contracts/ imports pydantic, the standard library and modulith.contracts only, which itself
# imports pydantic (with pydantic-core, the engine pydantic documents for custom types) and the
# standard library only. import-linter can only forbid named packages, so the allow-lists are
# checked here.

PYDANTIC_AND_STANDARD_LIBRARY = frozenset({"pydantic", "pydantic_core"}) | sys.stdlib_module_names
FRAMEWORK_CONTRACTS_MAY_IMPORT = PYDANTIC_AND_STANDARD_LIBRARY | {"modulith.contracts"}
CONTRACTS_MAY_IMPORT = FRAMEWORK_CONTRACTS_MAY_IMPORT | {"contracts"}


def foreign_imports(package_dir: Path, allowed: frozenset[str]) -> set[str]:
    """`file: module` for every import, at any depth of the code, of a module outside
    `allowed` (a name there allows that package and what is inside it)."""
    found: set[str] = set()
    for path in sorted(package_dir.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            relative = path.relative_to(package_dir.parent).as_posix()
            found |= {f"{relative}: {name}" for name in names if not _allowed(name, allowed)}
    return found


def _allowed(module: str, allowed: frozenset[str]) -> bool:
    parts = module.split(".")
    return any(".".join(parts[:length]) in allowed for length in range(1, len(parts) + 1))


def test_contracts_import_only_pydantic_and_the_standard_library() -> None:
    assert foreign_imports(ROOT / "contracts", CONTRACTS_MAY_IMPORT) == set()


def test_a_foreign_import_in_contracts_is_reported(tmp_path: Path) -> None:
    tree = copy_source_tree(tmp_path)
    append(tree / "contracts" / "payments.py", "def _client():\n    import boto3\n")
    append(tree / "contracts" / "orders.py", "from modulith.bus import publish\n")

    assert foreign_imports(tree / "contracts", CONTRACTS_MAY_IMPORT) == {
        "contracts/payments.py: boto3",
        "contracts/orders.py: modulith.bus",
    }


def test_the_framework_contracts_import_only_pydantic_and_the_standard_library() -> None:
    package = ROOT / "platform" / "modulith" / "contracts"

    assert foreign_imports(package, FRAMEWORK_CONTRACTS_MAY_IMPORT) == set()


def test_a_foreign_import_in_the_framework_contracts_is_reported(tmp_path: Path) -> None:
    tree = copy_source_tree(tmp_path)
    package = tree / "platform" / "modulith" / "contracts"
    append(package / "errors.py", "def _status():\n    from modulith.http import errors\n")

    assert foreign_imports(package, FRAMEWORK_CONTRACTS_MAY_IMPORT) == {
        "contracts/errors.py: modulith.http"
    }


# platform/ is a source root, never the package `platform`.


def imported_platform(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import platform, sys; print(platform.__file__); print(platform.system())",
        ],
        cwd=root,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([".", "platform"])},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_import_platform_from_the_project_root_gives_the_standard_library() -> None:
    result = imported_platform(ROOT)

    assert result.returncode == 0, result.stderr
    module_file, system = result.stdout.splitlines()
    assert not Path(module_file).resolve().is_relative_to(ROOT / "platform"), module_file
    assert system, "platform.system() returned nothing"


def test_platform_is_a_source_root_not_a_package() -> None:
    assert not (ROOT / "platform" / "__init__.py").exists()
