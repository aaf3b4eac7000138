"""The system checks of the running modules: each id fires on its planted mistake, names the
module and says how to fix it; the shop's own configuration has none."""

import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

import pytest
from django.apps import apps
from django.core.checks import CheckMessage, run_checks
from django.test import override_settings

from contracts.inventory import InventoryQueries
from contracts.orders import OrderConfirmed, OrderPlaced
from modulith import ConfigurationError, Module
from modulith.conf import modulith_settings
from modulith.contracts import Event
from modulith.http import build_api
from modulith.modules import Topology
from modulith.modules.checks import TAG, raise_for_errors
from modulith.modules.checks.apps import app_errors
from modulith.modules.checks.databases import database_errors
from modulith.modules.checks.events import event_errors, foreign_source_errors
from modulith.modules.checks.manifests import manifest_errors

Plant = Callable[[str], str]


class ReportRequested(Event):
    """An event no module of the shop publishes."""


class ReportQueries(Protocol):
    def report(self, day: str, *, detail: bool = False) -> str: ...


@pytest.fixture
def plant(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Plant]:
    """Writes a throwaway Python module and gives its dotted name."""
    monkeypatch.syspath_prepend(str(tmp_path))
    planted: list[str] = []

    def write(source: str) -> str:
        name = f"planted_{len(planted)}_{tmp_path.name}".replace("-", "_")
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
        planted.append(name)
        return name

    yield write
    for name in planted:
        sys.modules.pop(name, None)


def only(messages: list[CheckMessage]) -> CheckMessage:
    assert len(messages) == 1, [str(message) for message in messages]
    return messages[0]


def shop_module(name: str) -> Module:
    return modulith_settings().topology.module(name)


def test_the_shops_own_configuration_passes_every_modulith_check() -> None:
    assert run_checks(tags=[TAG]) == []


def test_a_handler_that_cannot_be_imported_is_modulith_e001() -> None:
    reports = Module(
        name="reports", app="reports", handles={OrderPlaced: "modules.orders.handlers.on_placd"}
    )

    error = only(manifest_errors([reports]))

    assert error.id == "modulith.E001"
    assert error.obj == "reports"
    assert error.msg == (
        "reports handles OrderPlaced with modules.orders.handlers.on_placd, which cannot be "
        "imported: module 'modules.orders.handlers' has no attribute 'on_placd'"
    )
    assert error.hint == "Correct the dotted path in reports's manifest, or the code it names."


def test_a_provider_whose_module_fails_to_import_is_modulith_e001_with_the_reason(
    plant: Plant,
) -> None:
    broken = plant("def report(self:\n")
    reports = Module(name="reports", app="reports", provides={ReportQueries: f"{broken}.Impl"})

    error = only(manifest_errors([reports]))

    assert error.id == "modulith.E001"
    assert error.msg.startswith(
        f"reports provides ReportQueries with {broken}.Impl, which cannot be imported: "
        "SyntaxError: "
    )
    assert "\n" not in error.msg


@pytest.mark.parametrize(
    ("role", "problem", "hint"),
    [
        (
            {"handles": {OrderPlaced: "modules.orders.handlers"}},
            "handles OrderPlaced with modules.orders.handlers, which is a module, not a function",
            "the handler function itself (package.module.function), which takes the event",
        ),
        (
            {"provides": {InventoryQueries: "modules.orders.module.manifest"}},
            "provides InventoryQueries with modules.orders.module.manifest, which is a Module, "
            "not a class",
            "the class that implements the port, which is built with no arguments",
        ),
        (
            {"provides": {InventoryQueries: "modulith.modules.errors.NotFound"}},
            "provides InventoryQueries with modulith.modules.errors.NotFound, which is a class "
            "whose constructor needs message",
            "the class that implements the port, which is built with no arguments",
        ),
        (
            {"api": "modules.orders.api"},
            "serves its API from modules.orders.api, which is a module, not a Router",
            "the module's django-ninja Router (router = Router() in its api.py)",
        ),
    ],
    ids=["handler-is-a-module", "provider-is-not-a-class", "provider-needs-arguments", "api"],
)
def test_a_manifest_naming_the_wrong_kind_of_thing_is_modulith_e002(
    role: dict[str, Any], problem: str, hint: str
) -> None:
    reports = Module(name="reports", app="reports", **role)

    error = only(manifest_errors([reports]))

    assert error.id == "modulith.E002"
    assert error.obj == "reports"
    assert error.msg == f"reports {problem}"
    assert error.hint == f"In reports's manifest, name {hint}."


def test_a_handler_that_cannot_take_the_event_alone_is_modulith_e002(plant: Plant) -> None:
    planted = plant("""
        def on_placed(event: object, reason: str) -> None:
            pass
    """)
    reports = Module(name="reports", app="reports", handles={OrderPlaced: f"{planted}.on_placed"})

    error = only(manifest_errors([reports]))

    assert error.id == "modulith.E002"
    assert error.msg == (
        f"reports handles OrderPlaced with {planted}.on_placed, which is a function "
        "on_placed(event, reason), not one that takes the event alone"
    )


@pytest.mark.parametrize(
    ("handler", "problem"),
    [
        (
            """
            async def on_placed(event):
                yield event
            """,
            "an async generator function, whose body the bus would never run",
        ),
        (
            """
            def on_placed(event):
                yield event
            """,
            "a generator function, whose body the bus would never run",
        ),
        (
            """
            import functools

            async def record(event):
                pass

            @functools.wraps(record)
            def on_placed(event):
                return record(event)
            """,
            "a plain function wrapping the coroutine function record, whose coroutine the bus "
            "would never await (make the wrapper async def, or mark it with "
            "asgiref.sync.markcoroutinefunction)",
        ),
    ],
    ids=["async generator", "generator", "plain wrapper of a coroutine function"],
)
def test_a_handler_whose_body_the_bus_would_never_run_is_modulith_e002(
    plant: Plant, handler: str, problem: str
) -> None:
    planted = plant(handler)
    reports = Module(name="reports", app="reports", handles={OrderPlaced: f"{planted}.on_placed"})

    error = only(manifest_errors([reports]))

    assert error.id == "modulith.E002"
    assert error.msg == f"reports handles OrderPlaced with {planted}.on_placed, which is {problem}"


def test_async_handlers_and_marked_wrappers_of_them_pass(plant: Plant) -> None:
    planted = plant("""
        import functools

        from asgiref.sync import markcoroutinefunction

        async def on_placed(event):
            pass

        @markcoroutinefunction
        @functools.wraps(on_placed)
        def on_placed_marked(event):
            return on_placed(event)

        class OnPlaced:
            async def __call__(self, event):
                pass

        on_placed_by_an_object = OnPlaced()
    """)
    paths = tuple(
        f"{planted}.{name}" for name in ("on_placed", "on_placed_marked", "on_placed_by_an_object")
    )
    reports = Module(name="reports", app="reports", handles={OrderPlaced: paths})

    assert manifest_errors([reports]) == []


def test_a_provider_missing_a_method_of_its_port_is_modulith_e003(plant: Plant) -> None:
    planted = plant("""
        class InventoryQueriesImpl:
            def stock(self, skus):
                return []
    """)
    inventory = Module(
        name="inventory",
        app="inventory",
        provides={InventoryQueries: f"{planted}.InventoryQueriesImpl"},
    )

    error = only(manifest_errors([inventory]))

    assert error.id == "modulith.E003"
    assert error.obj == "inventory"
    assert error.msg == (
        f"inventory provides InventoryQueries with {planted}.InventoryQueriesImpl, which has "
        "no method prices(self, skus)"
    )
    assert error.hint == (
        f"Implement InventoryQueries.prices(self, skus) in {planted}.InventoryQueriesImpl."
    )


@pytest.mark.parametrize(
    "parameters",
    [
        "(self, date, *, detail=False)",  # another name
        "(self, day, detail=False)",  # positional where the port says keyword-only
        "(self, day, *, detail=True)",  # another default
        "(self, day)",  # a parameter short
        "(day, *, detail=False)",  # a static method
    ],
    ids=["name", "kind", "default", "missing", "static"],
)
def test_a_provider_method_unlike_its_ports_is_modulith_e004(plant: Plant, parameters: str) -> None:
    decorator = "@staticmethod" if not parameters.startswith("(self") else ""
    planted = plant(f"""
        class ReportQueriesImpl:
            {decorator}
            def report{parameters}:
                return ""
    """)
    reports = Module(
        name="reports", app="reports", provides={ReportQueries: f"{planted}.ReportQueriesImpl"}
    )

    error = only(manifest_errors([reports]))

    assert error.id == "modulith.E004"
    assert error.obj == "reports"
    assert error.msg == (
        f"reports provides ReportQueries with {planted}.ReportQueriesImpl, whose "
        f"report{parameters} is not the port's report(self, day, *, detail=False)"
    )
    assert error.hint == (
        "Give report the port's parameters: the same names, kinds and defaults "
        "(a remote caller passes them by name)."
    )


def test_a_provider_with_the_ports_parameters_and_other_annotations_passes(plant: Plant) -> None:
    planted = plant("""
        class ReportQueriesImpl:
            def report(self, day: object, *, detail: object = False) -> object:
                return ""

            def extra(self) -> None:
                pass
    """)
    reports = Module(
        name="reports", app="reports", provides={ReportQueries: f"{planted}.ReportQueriesImpl"}
    )

    assert manifest_errors([reports]) == []


def test_handling_an_event_no_module_publishes_is_modulith_e005() -> None:
    reports = Module(
        name="reports", app="reports", handles={ReportRequested: "reports.handlers.on_request"}
    )
    topology = Topology(modules=(shop_module("orders"), reports), running=frozenset({"reports"}))

    error = only(event_errors(topology, [reports]))

    assert error.id == "modulith.E005"
    assert error.obj == "reports"
    assert error.msg == (
        "reports handles ReportRequested, which no module publishes and reports accepts from no "
        "producer outside"
    )
    assert error.hint == (
        "Add ReportRequested to the publishes of the module that sends it, declare the producer "
        'outside in reports\'s accepts_from ({ReportRequested: "<its source>"}), or remove the '
        "handler."
    )


def reports_accepting(
    handled: type[Event], accepts_from: dict[type[Any], str | tuple[str, ...]]
) -> tuple[Module, Topology]:
    """A reports module handling `handled` and declaring producers outside, running beside the
    shop's orders and payments (which it does not run)."""
    reports = Module(
        name="reports",
        app="reports",
        handles={handled: "reports.handlers.on_event"},
        accepts_from=accepts_from,
    )
    modules = (shop_module("orders"), shop_module("payments"), reports)
    return reports, Topology(modules=modules, running=frozenset({"reports"}))


def test_an_event_only_producers_outside_publish_is_handled_once_declared() -> None:
    reports, topology = reports_accepting(
        ReportRequested, {ReportRequested: ("backoffice.reports", "partner.portal")}
    )

    assert event_errors(topology, [reports]) == []
    assert foreign_source_errors(topology, [reports]) == []
    assert topology.event_type("ReportRequested") is ReportRequested
    assert topology.sources_of(reports, "ReportRequested") == (
        "backoffice.reports",
        "partner.portal",
    )


@pytest.mark.parametrize(
    "source", ["", "aws.events", "partner checkout", "x" * 257, "-leading", "tab\there"]
)
def test_a_foreign_source_an_event_cannot_carry_is_modulith_e020(source: str) -> None:
    reports, topology = reports_accepting(OrderPlaced, {OrderPlaced: source})

    error = only(foreign_source_errors(topology, [reports]))

    assert (error.id, error.obj) == ("modulith.E020", "reports")
    assert error.msg == (
        f"reports accepts OrderPlaced from {source!r}, which is not a source an event can carry"
    )


def test_accepting_an_event_from_a_modules_own_source_is_modulith_e021() -> None:
    reports, topology = reports_accepting(
        OrderPlaced, {OrderPlaced: ("partner.checkout", "payments.service")}
    )

    error = only(foreign_source_errors(topology, [reports]))

    assert error.id == "modulith.E021"
    assert error.msg == (
        "reports accepts OrderPlaced from payments.service, the source of a module of this "
        "application: only that module's own events may carry it"
    )


def test_accepting_from_outside_an_event_the_module_does_not_handle_is_modulith_e022() -> None:
    reports, topology = reports_accepting(OrderPlaced, {OrderConfirmed: "partner.checkout"})

    error = only(foreign_source_errors(topology, [reports]))

    assert error.id == "modulith.E022"
    assert error.msg == "reports accepts OrderConfirmed from outside but has no handler for it"


class OrderPlacedElsewhere(Event):
    """A class of its own for an event orders publishes: another schema under the same name."""

    event_name = "OrderPlaced"


def test_accepting_an_event_as_another_class_than_its_publishers_is_modulith_e023() -> None:
    reports, topology = reports_accepting(
        OrderPlacedElsewhere, {OrderPlacedElsewhere: "partner.checkout"}
    )

    error = only(foreign_source_errors(topology, [reports]))

    assert error.id == "modulith.E023"
    assert error.msg == (
        f"reports accepts OrderPlaced as {__name__}.OrderPlacedElsewhere, but orders publishes "
        "it as contracts.orders.OrderPlaced: an event has one schema"
    )


def test_an_event_published_by_a_module_running_elsewhere_is_published() -> None:
    reports = Module(name="reports", app="reports", handles={OrderPlaced: "x.on_order_placed"})
    topology = Topology(modules=(shop_module("orders"), reports), running=frozenset({"reports"}))

    assert event_errors(topology, [reports]) == []


def test_a_module_whose_app_is_not_installed_is_modulith_e006() -> None:
    error = only(app_errors([Module(name="reports", app="modules.reports")]))

    assert error.id == "modulith.E006"
    assert error.obj == "reports"
    assert error.msg == "reports's app modules.reports is not in INSTALLED_APPS"
    assert error.hint == ("Add 'modules.reports' to INSTALLED_APPS: every running module's app is.")


def test_a_module_whose_app_label_is_not_its_name_is_modulith_e007() -> None:
    error = only(app_errors([Module(name="sales", app="modules.orders.apps.OrdersConfig")]))

    assert error.id == "modulith.E007"
    assert error.obj == "sales"
    assert error.msg == "sales's app modules.orders.apps.OrdersConfig has the label 'orders'"
    assert error.hint == ("Set label = 'sales' in its AppConfig: a module's app label is its name.")


def test_a_module_without_a_database_is_modulith_e008() -> None:
    error = only(database_errors([Module(name="reports", app="reports")]))

    assert error.id == "modulith.E008"
    assert error.obj == "reports"
    assert error.msg == "reports's database 'reports' is not in DATABASES"
    assert error.hint == (
        "Add a DATABASES entry named 'reports': a running module lives in its own database, "
        "named after it, unless its manifest names a shared one (database='default')."
    )


@override_settings(DATABASE_ROUTERS=[])
def test_a_module_whose_models_go_to_another_database_is_modulith_e009() -> None:
    errors = [message for message in run_checks(tags=[TAG]) if message.id == "modulith.E009"]

    assert sorted(str(error.obj) for error in errors) == ["inventory", "orders", "payments"]
    [orders] = [error for error in errors if error.obj == "orders"]
    assert orders.msg == (
        "orders's models do not go to its database 'orders': "
        "Order is written to 'default', is read from 'default'; "
        "OrderLine is written to 'default', is read from 'default'"
    )
    assert orders.hint == (
        "Set DATABASE_ROUTERS = ['modulith.database.router.ModuleRouter'], or make your router "
        "send orders's models to 'orders'."
    )


def nonce_store_errors() -> list[CheckMessage]:
    """E010, as `check --deploy --database default` and the start of a server run it."""
    found = run_checks(tags=[TAG], include_deployment_checks=True, databases=["default"])
    return [message for message in found if message.id == "modulith.E010"]


@pytest.fixture
def answers_internal_calls(settings: Any) -> None:
    settings.MODULITH_INTERNAL_SECRET = "a-secret-of-the-services"


@pytest.mark.usefixtures("answers_internal_calls")
@pytest.mark.django_db(databases=["default"])
def test_nonces_in_the_migrated_table_pass_modulith_e010() -> None:
    assert nonce_store_errors() == []


@pytest.mark.usefixtures("answers_internal_calls")
def test_nonces_in_a_cache_of_each_process_are_modulith_e010(settings: Any) -> None:
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    settings.MODULITH_NONCE_STORE = "cache"

    error = only(nonce_store_errors())

    assert error.obj == "MODULITH_NONCE_STORE"
    assert error.msg == (
        "internal calls cannot be checked for replays: the cache 'default' keeps them in each "
        "process's memory, so a replay to another process is accepted"
    )
    assert error.hint is not None
    assert error.hint.startswith("Give it a shared backend (MODULITH_CACHE_URL")


@pytest.mark.usefixtures("answers_internal_calls")
def test_nonces_in_a_cache_that_is_not_configured_are_modulith_e010(settings: Any) -> None:
    settings.MODULITH_NONCE_STORE = "cache"
    settings.MODULITH_NONCE_CACHE = "nonces"

    error = only(nonce_store_errors())

    assert "names the cache 'nonces', which CACHES does not have" in error.msg


@pytest.mark.usefixtures("answers_internal_calls")
def test_modulith_e010_is_left_to_checks_of_deployment_so_that_migrate_runs(settings: Any) -> None:
    """`migrate` runs the checks before it makes the table: E010 must not stop it."""
    settings.MODULITH_NONCE_STORE = "cache"  # an E010, as the tests above show

    found = run_checks(tags=[TAG], databases=["default"])  # what migrate runs

    assert [message.id for message in found] == []


def test_a_process_without_keys_answers_no_internal_call_and_needs_no_store(settings: Any) -> None:
    settings.MODULITH_NONCE_STORE = "cache"

    assert nonce_store_errors() == []


@override_settings(DATABASE_ROUTERS=[])
def test_manage_py_check_of_one_app_checks_that_module_only() -> None:
    messages = run_checks(app_configs=[apps.get_app_config("payments")], tags=[TAG])

    assert [(message.id, message.obj) for message in messages] == [("modulith.E009", "payments")]


# The test runner turns DEBUG off: a server would then refuse the development API key.
@override_settings(DATABASE_ROUTERS=[], MODULITH_API_KEYS=["a-key-of-this-test"])
def test_at_start_the_errors_stop_the_process_one_line_each() -> None:
    with pytest.raises(ConfigurationError) as stopped:
        raise_for_errors()

    lines = str(stopped.value).splitlines()
    assert [line.split(" ", 2)[:2] for line in lines] == [
        ["modulith.E009", "inventory's"],
        ["modulith.E009", "orders's"],
        ["modulith.E009", "payments's"],
    ]
    assert lines[1].startswith("modulith.E009 orders's models do not go to its database 'orders'")


@override_settings(
    DATABASE_ROUTERS=[],
    SILENCED_SYSTEM_CHECKS=["modulith.E009"],
    MODULITH_API_KEYS=["a-key-of-this-test"],
)
def test_a_silenced_check_does_not_stop_a_start() -> None:
    raise_for_errors()


@override_settings(DEBUG=False, MODULITH_API_KEYS=["k1", "dev-api-key"])
def test_a_server_with_debug_off_refuses_the_development_api_key_and_a_worker_does_not() -> None:
    with pytest.raises(ConfigurationError) as stopped:
        raise_for_errors(serves_requests=True)

    assert str(stopped.value).startswith("modulith.E011 MODULITH_API_KEYS holds the development")
    raise_for_errors(serves_requests=False)  # a consumer, a relay, a migration: no API, no key


def test_an_api_that_is_not_a_router_stops_the_urls_with_the_checks_line() -> None:
    topology = Topology(
        modules=(Module(name="reports", app="reports", api="modules.orders.api"),),
        running=frozenset({"reports"}),
    )

    with pytest.raises(ConfigurationError) as stopped:
        build_api(topology, title="t", version="1")

    assert str(stopped.value) == (
        "modulith.E002 reports serves its API from modules.orders.api, which is a module, "
        "not a Router"
    )
