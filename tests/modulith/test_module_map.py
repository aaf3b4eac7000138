"""The module map: the topology as text, Mermaid and Graphviz, and the committed docs/modules.md."""

import re
import subprocess
from collections.abc import Mapping
from io import StringIO
from pathlib import Path
from typing import ClassVar

import pytest
from django.core.management import call_command

from modulith import Module
from modulith.conf import modulith_settings
from modulith.contracts import Converter, Event, unchanged
from modulith.modules import Topology
from modulith.modules import map as module_map
from tests.system import program

MANIFESTS = [
    "modules.orders.module.manifest",
    "modules.inventory.module.manifest",
    "modules.payments.module.manifest",
]
MODULE_MAP = Path(__file__).resolve().parents[2] / "docs" / "modules.md"
REGENERATE = "python manage.py modules --format markdown > docs/modules.md"

EVENT_EDGES = {
    ("orders", "inventory", "OrderPlaced"),
    ("orders", "inventory", "OrderConfirmed"),
    ("orders", "inventory", "OrderCancelled"),
    ("orders", "payments", "OrderPaymentRefused"),
    ("orders", "orders", "PaymentDeadlinePassed"),  # a saga timeout, to itself
    ("inventory", "payments", "StockReserved"),
    ("inventory", "orders", "StockReservationFailed"),
    ("payments", "orders", "PaymentCaptured"),
    ("payments", "orders", "PaymentFailed"),
    ("payments", "inventory", "PaymentFailed"),
}
PORT_EDGES = {
    ("orders", "inventory", "InventoryQueries"),
    ("payments", "orders", "OrderQueries"),
}
# What the manifests accept from producers outside: (source, subscriber, event).
FOREIGN_EDGES = {
    ("partner.checkout", "inventory", "OrderPlaced"),
    ("billing.legacy", "orders", "PaymentCaptured"),
}


@pytest.fixture
def topology() -> Topology:
    return Topology.load(MANIFESTS, None)


def test_the_text_names_every_module_event_and_port(topology: Topology) -> None:
    text = module_map.text(topology)

    assert "Modules: inventory, orders, payments" in text
    for module in ("inventory", "orders", "payments"):
        assert f"Module {module}\n" in text
    assert "OrderPlaced 2.0 (reads 1.x up): orders -> inventory\n" in text
    assert "StockReserved 2.0 (reads 1.x up): inventory -> payments\n" in text
    assert "PaymentFailed 1.0: payments -> inventory, orders\n" in text
    assert "StockReleased 2.0 (reads 1.x up): inventory -> (no subscribers)\n" in text
    assert "StockReservationFailed 3.0 (reads 1.x up): inventory -> orders\n" in text
    assert "InventoryQueries: orders -> inventory\n" in text
    assert "OrderQueries: payments -> orders\n" in text
    outside = text.split("Events from outside (source -> subscriber)\n")[1].split("\n\n")[0]
    assert outside.splitlines() == [
        "  OrderPlaced: partner.checkout -> inventory",
        "  PaymentCaptured: billing.legacy -> orders",
    ]


def test_the_text_names_each_modules_handlers_ports_and_their_providers(
    topology: Topology,
) -> None:
    text = module_map.text(topology)
    orders = text.split("Module orders\n")[1].split("\n\n")[0]
    payments = text.split("Module payments\n")[1].split("\n\n")[0]

    assert (
        "publishes  OrderCancelled, OrderConfirmed, OrderPaymentRefused, OrderPlaced, "
        "PaymentDeadlinePassed" in orders
    )
    assert "PaymentCaptured from payments: modules.orders.handlers.on_payment_captured" in orders
    assert "provides   OrderQueries: modules.orders.queries.OrderQueriesImpl" in orders
    assert "uses       InventoryQueries from inventory" in orders
    assert "accepts    PaymentCaptured from billing.legacy" in orders
    assert (
        "handles    OrderPaymentRefused from orders: "
        "modules.payments.handlers.on_order_payment_refused\n"
        "             StockReserved from inventory: modules.payments.handlers.on_stock_reserved"
        in (payments)
    )
    assert "provides   -" in payments
    assert "accepts    -" in payments
    assert "uses       OrderQueries from orders" in payments


class ParcelDispatched(Event):
    schema_version: ClassVar[str] = "3.0"
    upcasters: ClassVar[Mapping[int, Converter]] = {2: unchanged}
    former_names: ClassVar[Mapping[str, int]] = {"ParcelSent": 1, "ShipmentSent": 2}


def test_the_text_shows_an_events_version_the_oldest_it_reads_and_its_former_names() -> None:
    warehouse = Module(name="warehouse", app="warehouse", publishes=(ParcelDispatched,))

    text = module_map.text(Topology(modules=(warehouse,), running=frozenset()))

    assert (
        "  ParcelDispatched 3.0 (reads 2.x up; formerly ParcelSent to 1.x, ShipmentSent to "
        "2.x): warehouse -> (no subscribers)\n"
    ) in text


def test_the_mermaid_flowchart_has_an_edge_per_subscriber_source_outside_and_port(
    topology: Topology,
) -> None:
    lines = module_map.mermaid(topology).splitlines()

    assert lines[0] == "flowchart LR"
    assert [line.strip() for line in lines[1:4]] == [
        "inventory[inventory]",
        "orders[orders]",
        "payments[payments]",
    ]
    events = {
        m.groups() for line in lines if (m := re.fullmatch(r" +(\w+) -->\|(\w+)\| (\w+)", line))
    }
    ports = {
        m.groups() for line in lines if (m := re.fullmatch(r" +(\w+) -\.->\|(\w+)\| (\w+)", line))
    }
    sources: dict[str, str] = {
        m.group(1): m.group(2)
        for line in lines
        if (m := re.fullmatch(r' +(\w+)\(\["([\w.]+)"\]\)', line))
    }
    foreign = {
        m.groups() for line in lines if (m := re.fullmatch(r" +(\w+) ==>\|(\w+)\| (\w+)", line))
    }
    assert {(a, b, label) for a, label, b in events} == EVENT_EDGES
    assert {(a, b, label) for a, label, b in ports} == PORT_EDGES
    assert {(sources[a], b, label) for a, label, b in foreign} == FOREIGN_EDGES
    assert len(lines) == 1 + 3 + len(sources) + len(EVENT_EDGES) + len(FOREIGN_EDGES) + len(
        PORT_EDGES
    )


def test_the_dot_output_is_a_well_formed_digraph_with_the_same_edges(topology: Topology) -> None:
    source = module_map.dot(topology)
    lines = source.splitlines()

    assert lines[0] == "digraph modules {"
    assert lines[-1] == "}"
    depth = 0
    for char in re.sub(r'"(?:[^"\\]|\\.)*"', '""', source):
        depth += {"{": 1, "}": -1}.get(char, 0)
        assert depth >= 0, "a closing brace before its opening one"
    assert depth == 0, "unbalanced braces"

    nodes: set[str] = set()
    sources: set[str] = set()
    events: set[tuple[str, ...]] = set()
    ports: set[tuple[str, ...]] = set()
    foreign: set[tuple[str, ...]] = set()
    edge_line = r' +"([\w.]+)" -> "(\w+)" \[label="(\w+)"(, style=dashed|, style=bold)?\];'
    for line in lines[1:-1]:
        if edge := re.fullmatch(edge_line, line):
            source_node, target, label, style = edge.groups()
            kind = {", style=dashed": ports, ", style=bold": foreign}.get(style, events)
            kind.add((source_node, target, label))
        elif node := re.fullmatch(r' +"(\w+)";', line):
            nodes.add(node.group(1))
        elif source_node := re.fullmatch(r' +"([\w.]+)" \[shape=ellipse, style=dashed\];', line):
            sources.add(source_node.group(1))
        else:
            assert re.fullmatch(r" +(rankdir=LR|node \[shape=box\]);", line), line
    assert nodes == {"inventory", "orders", "payments"}
    assert sources == {source for source, _, _ in FOREIGN_EDGES}
    assert events == EVENT_EDGES
    assert ports == PORT_EDGES
    assert foreign == FOREIGN_EDGES


def test_graphviz_accepts_the_dot_output(topology: Topology) -> None:
    dot = program("dot", "graphviz")
    subprocess.run([dot, "-Tcanon"], input=module_map.dot(topology), text=True, check=True)


def test_the_map_shows_every_module_whichever_run_here_in_a_stable_order(
    topology: Topology,
) -> None:
    split = Topology.load(MANIFESTS, ["payments"])
    reordered = Topology(modules=topology.modules[::-1], running=topology.running)

    for render in module_map.FORMATS.values():
        assert render(split) == render(topology)
        assert render(reordered) == render(topology)


def test_the_command_prints_each_format() -> None:
    deployed = modulith_settings().topology  # whatever modules the project has
    for name, render in module_map.FORMATS.items():
        out = StringIO()
        call_command("modules", format=name, stdout=out)
        assert out.getvalue() == render(deployed)


def test_docs_modules_md_is_generated_from_the_manifests_and_up_to_date() -> None:
    out = StringIO()
    call_command("modules", format="markdown", stdout=out)
    committed = MODULE_MAP.read_text(encoding="utf-8")

    assert committed.startswith("<!-- Generated by `python manage.py modules --format markdown`")
    assert out.getvalue() == committed, (
        f"docs/modules.md is stale: regenerate it with `{REGENERATE}`"
    )
