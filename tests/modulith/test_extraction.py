"""Extracting a module is a change of configuration: what runs here is MODULITH_MODULES."""

import json

import pytest
from django.core.management import call_command

from tests.processes import run_python

PROBE = (
    "import os, sys, json, django\n"
    "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'config.settings')\n"
    "django.setup()\n"
    "import config.urls\n"
    "from django.conf import settings\n"
    "from modulith.runtime import runtime\n"
    "from contracts.orders import OrderQueries\n"
    "runtime().ports.resolve(OrderQueries)\n"
    "loaded = sorted(m for m in sys.modules if m.startswith('modules.'))\n"
    "databases = sorted(settings.DATABASES)\n"
    "print(json.dumps({'modules': loaded, 'apps': settings.INSTALLED_APPS,\n"
    "                  'databases': databases}))\n"
)
SPLIT = {"MODULITH_TRANSPORT": "sqs", "AWS_DEFAULT_REGION": "us-east-1"}


@pytest.mark.django_db(databases="__all__")
def test_the_code_of_a_module_that_does_not_run_here_is_never_imported() -> None:
    probe = run_python(PROBE, MODULITH_MODULES="orders,inventory", env=SPLIT)

    assert probe.returncode == 0, probe.stderr
    seen = json.loads(probe.stdout)
    payments_code = [m for m in seen["modules"] if m.startswith("modules.payments")]
    assert payments_code == ["modules.payments", "modules.payments.module"]  # the manifest only
    assert "modules.orders.models" in seen["modules"]
    assert "modules.payments" not in seen["apps"]
    assert seen["databases"] == ["default", "inventory", "orders"]


def test_an_unknown_module_is_a_one_line_start_up_error() -> None:
    probe = run_python(PROBE, MODULITH_MODULES="orders,shipping", env=SPLIT)

    assert probe.returncode != 0
    assert "unknown module(s) shipping" in probe.stderr


def test_the_in_process_transport_with_a_partial_module_set_is_refused() -> None:
    probe = run_python(PROBE, MODULITH_MODULES="orders", MODULITH_TRANSPORT="inprocess")

    assert probe.returncode != 0
    assert "MODULITH_TRANSPORT=inprocess cannot reach inventory, payments" in probe.stderr


def test_a_service_that_calls_another_needs_its_address_and_the_keys() -> None:
    no_secret = run_python(PROBE, MODULITH_MODULES="payments", env=SPLIT)
    no_address = run_python(
        PROBE, MODULITH_MODULES="payments", MODULITH_INTERNAL_SECRET="s", env=SPLIT
    )

    assert "set MODULITH_INTERNAL_KEYS (or MODULITH_INTERNAL_SECRET)" in no_secret.stderr
    assert "MODULITH_SERVICE_URLS has no URL for orders" in no_address.stderr


def test_extract_prints_the_plan(capsys: pytest.CaptureFixture[str]) -> None:
    call_command("extract", "payments")
    plan = capsys.readouterr().out

    assert "PaymentCaptured: payments -> orders" in plan
    assert "StockReserved: inventory -> payments" in plan
    assert "OrderQueries: payments -> orders" in plan
    assert "payments_payment" in plan
    assert "modulith_outboxevent" in plan
    assert plan.count("modulith_delivery") == 1


def test_extract_env_prints_both_environments(capsys: pytest.CaptureFixture[str]) -> None:
    call_command("extract", "inventory", "--format", "env", "--service-url", "http://inv:8000")
    service, rest = capsys.readouterr().out.split("# the rest")

    assert "MODULITH_MODULES=inventory\n" in service
    assert "INVENTORY_DATABASE_URL=" in service
    assert "MODULITH_MODULES=orders,payments\n" in rest
    assert "MODULITH_SERVICE_URLS=inventory=http://inv:8000" in rest


def test_extract_with_the_sns_transport_sets_it_on_both_sides(
    capsys: pytest.CaptureFixture[str],
) -> None:
    call_command("extract", "payments", "--format", "env", "--transport", "sns")
    service, rest = capsys.readouterr().out.split("# the rest")

    assert "MODULITH_TRANSPORT=sns\n" in service
    assert "MODULITH_TRANSPORT=sns\n" in rest
