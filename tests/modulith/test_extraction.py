"""Extracting a module is a change of configuration: what runs here is MODULITH_MODULES."""

import json

import pytest
from django.core.management import call_command

from modulith.runtime import runtime
from modulith.tooling.rolling import Deployment, RollingPlan, rolling_plan
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


def states(plan: RollingPlan) -> list[tuple[Deployment, Deployment]]:
    """What the monolith and the service run after each step."""
    return [(step.monolith, step.service) for step in plan.steps]


def test_merging_back_passes_through_the_states_of_the_extraction_in_reverse() -> None:
    topology = runtime().topology
    out, back = (
        rolling_plan(
            topology,
            "payments",
            transport="sns",
            back=back,
            service_url="http://payments:8000",
            monolith_url="http://monolith:8000",
        )
        for back in (False, True)
    )
    before = back.steps[-1]

    # So each step's rollback is the other direction's step: every state between two steps
    # is one the shop runs in for good.
    assert states(back) == [*reversed(states(out)[:-1]), (before.monolith, before.service)]
    assert before.monolith.env["MODULITH_TRANSPORT"] == "inprocess"
    assert before.monolith.roles == ("web",)
    assert not before.service.running
    [monolith, both, split] = states(out)
    assert monolith[0].env["MODULITH_MODULES"] == "orders,inventory,payments"
    assert monolith[0].roles == ("web", "consume")
    assert both[1].env["MODULITH_MODULES"] == "payments"
    assert split[0].env["MODULITH_MODULES"] == "orders,inventory"
    assert [step.rolls for step in out.steps] == ["monolith", "payments", "monolith"]
    assert [step.rolls for step in back.steps] == ["monolith", "payments", "monolith"]
    assert [step.then for step in back.steps] == [(), (), ("manage.py consume --drain",)]


def test_extract_prints_the_rolling_steps_with_both_sides_environments(
    capsys: pytest.CaptureFixture[str],
) -> None:
    call_command("extract", "payments", "--transport", "sqs", "--service-url", "http://pay:80")
    printed = capsys.readouterr().out
    steps = printed.split("\n\nStep ")[1:]

    assert "Before step 1: MODULITH_TRANSPORT=sqs manage.py provision" in printed
    assert [step.split("\n")[0] for step in steps] == [
        "1: the monolith moves to sqs, still running every module",
        "2: the payments service starts beside the monolith, on the same database",
        "3: the monolith stops running payments",
    ]
    first, second, third = steps
    assert "check first: manage.py extract payments --transport sqs --ready 1\n" in first
    assert "the monolith: deploy, roles web, consume, environment:\n" in first
    assert "the payments service: not running\n" in first
    assert "    MODULITH_TRANSPORT=sqs\n" in first
    assert "the monolith: unchanged, roles web, consume" in second
    assert "the payments service: deploy, roles web, consume, environment:\n" in second
    assert "    MODULITH_SERVICE_URLS=orders=http://monolith:8000\n" in second
    assert "front door: /api/payments to the payments service\n" in second
    assert "    MODULITH_MODULES=orders,inventory\n" in third
    assert (
        "to roll back: roll the monolith back to its environment before this step (the "
        "monolith and the payments service both run payments" in third
    )
    assert printed.rstrip().endswith(
        "Done: manage.py extract payments --transport sqs --ready done passes (with the "
        "monolith's environment, and with the payments service's for its outbox while it runs)."
    )


def test_extract_back_prints_the_merge_ending_with_a_drain_of_the_queues(
    capsys: pytest.CaptureFixture[str],
) -> None:
    call_command("extract", "inventory", "--back", "--transport", "eventbridge")
    printed = capsys.readouterr().out
    steps = printed.split("\n\nStep ")[1:]

    assert printed.startswith("Merging inventory back into the monolith, while both keep serving")
    assert "Events it publishes" not in printed
    assert [step.split("\n")[0] for step in steps] == [
        "1: the monolith runs inventory again, beside its service",
        "2: the inventory service stops",
        "3: the monolith moves back to the in-process transport",
    ]
    assert (
        "check first: manage.py extract inventory --back --transport eventbridge --ready 2"
        in (steps[1])
    )
    assert "the inventory service: stop it\n" in steps[1]
    assert "front door: /api/inventory to the monolith\n" in steps[1]
    assert "    MODULITH_TRANSPORT=inprocess\n" in steps[2]
    assert "then, once the old tasks have all stopped: manage.py consume --drain\n" in steps[2]
