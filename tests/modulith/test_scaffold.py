"""`manage.py startmodule`: a new module that works, keeps the boundaries and joins the saga.

The slow tests scaffold `shipping` (subscribed to OrderConfirmed) in a copy of the project and
run the project's own checks there: lint-imports, ruff, mypy, the generated tests, the saga,
the stored schemas, the migrations and the module map. The others check the names, the edits
of settings and pyproject.toml, the refusals, and that a failure leaves the project as it was.
"""

import os
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Mapping
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from modulith import scaffold
from modulith.conf import modulith_settings
from tests.test_boundaries import independence_coverage, lint_imports

ROOT = Path(__file__).resolve().parents[2]
PROJECT = ("config", "contracts", "modules", "platform", "tests", "docs")
IGNORED = shutil.ignore_patterns(
    "__pycache__", "*.pyc", ".venv", "var", ".*_cache", "*.egg-info", "node_modules"
)
GENERATED = ("modules/shipping", "contracts/shipping.py", "tests/modules/shipping")

SHIPPED_IN_THE_SAGA = '''"""Shipping in the saga: confirmed orders are shipped."""

import pytest
from django.test import Client

from tests.shop import place, stock

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def shipped(client: Client, order_id: str) -> list[str]:
    response = client.get("/api/shipping", {"reference": order_id})
    return [shipment["reference"] for shipment in response.json()["items"]]


def test_a_confirmed_order_is_shipped(client: Client) -> None:
    stock(client, "KB-1", 5)
    placed = place(client, ("KB-1", 1)).json()

    assert shipped(client, placed["orderId"]) == [placed["orderId"]]


def test_a_declined_order_is_not_shipped(client: Client) -> None:
    stock(client, "KB-1", 5)
    placed = place(client, ("KB-1", 1), token="tok_chargeDeclined").json()

    assert shipped(client, placed["orderId"]) == []
'''


def copy_project(destination: Path, names: tuple[str, ...] = PROJECT) -> Path:
    for name in names:
        shutil.copytree(ROOT / name, destination / name, ignore=IGNORED)
    for name in ("pyproject.toml", "manage.py"):
        shutil.copy2(ROOT / name, destination / name)
    return destination


def tree_env(tree: Path) -> dict[str, str]:
    """The copy's own code first on the path (the project is also installed in editable mode),
    every module running in process, on SQLite files of its own."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("MODULITH_", "PYTEST_")) and not key.endswith("DATABASE_URL")
    }
    env["PYTHONPATH"] = os.pathsep.join([str(tree), str(tree / "platform")])
    env["MODULITH_VAR_DIR"] = str(tree / "var")
    env["DJANGO_DEBUG"] = "1"  # development: the development secret key and API key
    return env


def run(
    tree: Path, *command: str, timeout: float = 180, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(command),
        cwd=tree,
        env=dict(env or tree_env(tree)),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def tool(name: str) -> str:
    found = Path(sys.executable).with_name(name)
    assert found.is_file(), f"{name} is not installed: make install"
    return str(found)


def pytest_in(tree: Path, *paths: str) -> subprocess.CompletedProcess[str]:
    return run(tree, sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *paths)


def snapshot(tree: Path) -> dict[str, bytes]:
    return {
        path.relative_to(tree).as_posix(): path.read_bytes()
        for path in sorted(tree.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }


# The scaffolded module, in a copy of the project.


@pytest.fixture(scope="module")
def shipping(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tree = copy_project(tmp_path_factory.mktemp("project"))
    result = run(
        tree,
        sys.executable,
        "manage.py",
        "startmodule",
        "shipping",
        "--model",
        "Shipment",
        "--handles",
        "OrderConfirmed",
        "--root",
        str(tree),
    )
    assert result.returncode == 0, result.stderr
    assert "Created module shipping" in result.stdout
    (tree / "tests" / "modules" / "test_shipping_in_the_saga.py").write_text(SHIPPED_IN_THE_SAGA)
    return tree


@pytest.mark.slow
def test_the_copy_runs_its_own_code_and_the_real_tree_is_untouched(shipping: Path) -> None:
    code = "import config.settings, modules.shipping, modulith.scaffold as s; print(s.__file__)"
    result = run(shipping, sys.executable, "-c", code)

    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.strip()).is_relative_to(shipping)
    assert not (ROOT / "modules" / "shipping").exists()
    assert not (ROOT / "contracts" / "shipping.py").exists()


@pytest.mark.slow
def test_the_module_joins_the_manifests_and_the_independence_contract(shipping: Path) -> None:
    settings_source = (shipping / "config" / "settings.py").read_text()
    with (shipping / "pyproject.toml").open("rb") as file:
        contracts = tomllib.load(file)["tool"]["importlinter"]["contracts"]
    [independence] = [c for c in contracts if c["type"] == "independence"]

    assert '"modules.shipping.module.manifest",' in settings_source
    assert "modules.shipping" in independence["modules"]
    assert independence_coverage(shipping).complete


@pytest.mark.slow
def test_the_new_module_keeps_every_import_contract(shipping: Path) -> None:
    result = lint_imports(shipping)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.slow
def test_the_generated_code_passes_ruff(shipping: Path) -> None:
    check = run(shipping, tool("ruff"), "check", *GENERATED)
    formatted = run(shipping, tool("ruff"), "format", "--check", *GENERATED)

    assert check.returncode == 0, check.stdout
    assert formatted.returncode == 0, formatted.stdout


@pytest.mark.slow
@pytest.mark.timeout(600)  # mypy starts without a cache: a minute, more on a busy machine
def test_the_generated_code_passes_mypy(shipping: Path) -> None:
    result = run(shipping, tool("mypy"), *GENERATED, timeout=540)

    assert result.returncode == 0, result.stdout


@pytest.mark.slow
def test_the_generated_tests_pass(shipping: Path) -> None:
    result = pytest_in(shipping, "tests/modules/shipping")

    assert result.returncode == 0, result.stdout
    assert "4 passed" in result.stdout


@pytest.mark.slow
def test_the_saga_passes_and_confirmed_orders_are_shipped(shipping: Path) -> None:
    result = pytest_in(
        shipping, "tests/modules/test_saga.py", "tests/modules/test_shipping_in_the_saga.py"
    )

    assert result.returncode == 0, result.stdout
    assert " failed" not in result.stdout


@pytest.mark.slow
def test_the_migration_the_schemas_and_the_module_map_are_up_to_date(shipping: Path) -> None:
    migrations = run(shipping, sys.executable, "manage.py", "makemigrations", "--check")
    schemas = run(shipping, sys.executable, "manage.py", "contracts", "check")
    module_map = pytest_in(
        shipping,
        "tests/modulith/test_documentation.py::"
        "test_docs_modules_md_is_generated_from_the_manifests_and_up_to_date",
    )

    assert migrations.returncode == 0, migrations.stdout + migrations.stderr
    assert schemas.returncode == 0, schemas.stderr
    assert (shipping / "contracts" / "schemas" / "ShipmentCreated.json").is_file()
    assert module_map.returncode == 0, module_map.stdout
    assert "orders -->|OrderConfirmed| shipping" in (shipping / "docs" / "modules.md").read_text()


@pytest.mark.slow
def test_scaffolding_an_existing_module_again_is_refused_in_one_line(shipping: Path) -> None:
    before = snapshot(shipping / "modules")

    result = run(shipping, sys.executable, "manage.py", "startmodule", "shipping")

    assert result.returncode != 0
    assert result.stderr.strip() == (
        "CommandError: a module named 'shipping' already exists: choose another name"
    )
    assert snapshot(shipping / "modules") == before


# Refusals, in the real project: nothing is written.


@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        ("Shipping", {}, "'Shipping' is not a module name: use lowercase letters"),
        ("2go", {}, "'2go' is not a module name"),
        ("class", {}, "'class' is not a module name"),
        ("customer_accounts", {}, "is too long: use at most 16 characters"),
        ("orders", {}, "a module named 'orders' already exists"),
        ("default", {}, "'default' is already used by the project or Django"),
        ("admin", {}, "admin's code is not the project's ("),
        ("shipping", {"model": "shipment"}, "--model 'shipment' is not a model name"),
        (
            "shipping",
            {"handles": ["OrderShipped"]},
            "no module publishes 'OrderShipped'; known events: OrderCancelled, ",
        ),
    ],
)
def test_a_bad_request_is_refused_in_one_line(
    tmp_path: Path, name: str, options: dict[str, object], message: str
) -> None:
    with pytest.raises(CommandError) as refused:
        call_command("startmodule", name, root=tmp_path, **options)

    assert message in str(refused.value)
    assert "\n" not in str(refused.value)
    assert list(tmp_path.iterdir()) == []


def test_a_module_whose_folder_exists_is_refused(tmp_path: Path) -> None:
    (tmp_path / "modules" / "shipping").mkdir(parents=True)

    with pytest.raises(CommandError, match=r"^modules/shipping already exists"):
        call_command("startmodule", "shipping", root=tmp_path)


def test_a_failing_step_leaves_the_project_as_it_was(tmp_path: Path) -> None:
    tree = copy_project(tmp_path, names=("config", "contracts", "modules", "docs"))
    (tree / "manage.py").write_text('import sys\n\nsys.exit("the database is locked")\n')
    before = snapshot(tree)
    request = scaffold.plan(
        "shipping", model=None, handles=["OrderConfirmed"], topology=modulith_settings().topology
    )

    with pytest.raises(scaffold.ScaffoldError, match="makemigrations shipping --noinput failed"):
        scaffold.create(request, root=tree, settings_module="config.settings")

    assert snapshot(tree) == before


# The generated code for any names and events, and the names themselves.


@pytest.mark.parametrize(
    ("name", "model", "handles"),
    [
        ("shipping", "Shipment", []),
        (
            "loyalty_points_2",
            "LoyaltyAccountRecord",
            ["OrderPlaced", "StockReservationFailed", "PaymentCaptured"],
        ),
    ],
)
def test_the_generated_code_is_formatted_and_clean_for_any_names(
    tmp_path: Path, name: str, model: str, handles: list[str]
) -> None:
    topology = modulith_settings().topology
    request = scaffold.plan(name, model=model, handles=handles, topology=topology)
    shutil.copy2(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    for relative, text in scaffold.render(request).items():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text(text)

    check = run(tmp_path, tool("ruff"), "check", "--no-cache", ".", env=os.environ)
    formatted = run(tmp_path, tool("ruff"), "format", "--check", "--no-cache", ".", env=os.environ)

    assert check.returncode == 0, check.stdout
    assert formatted.returncode == 0, formatted.stdout


@pytest.mark.parametrize(
    ("name", "model"),
    [
        ("payments", "Payment"),
        ("deliveries", "Delivery"),
        ("inventory", "Inventory"),
        ("address", "Address"),
        ("loyalty_points", "LoyaltyPoint"),
    ],
)
def test_the_default_model_is_the_name_in_the_singular(name: str, model: str) -> None:
    assert scaffold.default_model(name) == model


def test_the_names_of_a_modules_parts_follow_from_its_name_and_model() -> None:
    names = scaffold.Names(name="loyalty_points", model="HTTPLogEntry")

    assert names.port == "LoyaltyPointsQueries"
    assert names.created == "HTTPLogEntryCreated"
    assert names.entity == "http_log_entry"
    assert names.plural == "http_log_entries"
    assert scaffold.Plan(names=names, handles=()).manifest == (
        "modules.loyalty_points.module.manifest"
    )
    beside = scaffold.Plan(names=names, handles=(), package="loyalty_points")
    assert beside.manifest == "loyalty_points.module.manifest"


# Editing the settings' manifest list and pyproject.toml's independence contract.

SETTINGS = """BASE = 1

# Every module.
MODULITH_MANIFESTS = [
    "modules.orders.module.manifest",
    "modules.payments.module.manifest",  # the last one
]
_deployment = deployment(MODULITH_MANIFESTS)
"""


def test_a_manifest_goes_on_its_own_line_at_the_end_of_the_list() -> None:
    edited = scaffold.add_manifest(SETTINGS, "modules.shipping.module.manifest")

    assert edited == SETTINGS.replace(
        "  # the last one\n", '  # the last one\n    "modules.shipping.module.manifest",\n'
    )
    assert scaffold.add_manifest(edited, "modules.shipping.module.manifest") == edited


def test_a_manifest_is_added_to_a_list_without_a_trailing_comma_or_on_one_line() -> None:
    no_comma = 'M = 1\nMODULITH_MANIFESTS = [\n    "a.manifest",\n    "b.manifest"\n]\n'
    one_line = 'MODULITH_MANIFESTS: list[str] = ["a.manifest"]  # all\n'

    assert scaffold.add_manifest(no_comma, "c.manifest") == (
        'M = 1\nMODULITH_MANIFESTS = [\n    "a.manifest",\n    "b.manifest",\n'
        '    "c.manifest",\n]\n'
    )
    assert scaffold.add_manifest(one_line, "c.manifest") == (
        'MODULITH_MANIFESTS: list[str] = [\n    "a.manifest",\n    "c.manifest",\n]  # all\n'
    )


def test_settings_without_a_manifest_list_literal_are_refused() -> None:
    with pytest.raises(scaffold.ScaffoldError, match=r"no MODULITH_MANIFESTS = \[\.\.\.\] list"):
        scaffold.add_manifest("MODULITH_MANIFESTS = load()\n", "c.manifest")


def test_settings_that_set_no_manifests_get_a_list_for_one_of_their_apps() -> None:
    settings = 'INSTALLED_APPS = ["accounts"]\n'

    edited = scaffold.add_manifest(settings, "accounts.module.manifest", create=True)

    assert edited.startswith(settings)
    assert edited.endswith('MODULITH_MANIFESTS = [\n    "accounts.module.manifest",\n]\n')
    assert scaffold.add_manifest(edited, "blog.module.manifest", create=True).endswith(
        '    "accounts.module.manifest",\n    "blog.module.manifest",\n]\n'
    )


def test_a_new_module_goes_where_the_project_keeps_its_apps(tmp_path: Path) -> None:
    assert scaffold.new_module_places(tmp_path, "parcels") == ("parcels", "parcels/tests")
    (tmp_path / "modules").mkdir()
    assert scaffold.new_module_places(tmp_path, "parcels") == (
        "modules.parcels",
        "tests/modules/parcels",
    )


PYPROJECT = """[tool.importlinter]
root_packages = ["modules"]

[[tool.importlinter.contracts]]
id = "layers"
type = "layers"
layers = ["modules.a", "modules.b"]

[[tool.importlinter.contracts]]
id = "independent"
type = "independence"
modules = ["modules.inventory", "modules.orders"]  # every module

[tool.other]
modules = ["x"]
"""


def test_a_module_joins_the_independence_contract_and_nothing_else_changes() -> None:
    edited = scaffold.add_to_independence(PYPROJECT, "modules.payments")

    assert edited == PYPROJECT.replace(
        '"modules.orders"]  # every', '"modules.orders", "modules.payments"]  # every'
    )
    assert scaffold.add_to_independence(edited, "modules.payments") == edited


def test_a_long_independence_list_is_written_one_module_a_line() -> None:
    many = [f"modules.module_number_{n}" for n in range(4)]
    listed = ", ".join(f'"{module}"' for module in many)
    source = PYPROJECT.replace('"modules.inventory", "modules.orders"', listed)

    edited = scaffold.add_to_independence(source, "modules.zebra")

    expected = "".join(f'    "{module}",\n' for module in [*many, "modules.zebra"])
    assert f"modules = [\n{expected}]  # every module\n" in edited


def test_a_project_without_an_independence_contract_is_refused() -> None:
    source = PYPROJECT.replace('type = "independence"', 'type = "forbidden"')

    with pytest.raises(scaffold.ScaffoldError, match="no import-linter independence contract"):
        scaffold.add_to_independence(source, "modules.payments")
