"""A transport is a plug-in: a third party's, named in MODULITH_TRANSPORT by the dotted path of
its TransportKind, carries the shop's saga with nothing of the framework changed; a path that
names nothing, or something that is no kind, is one line at start."""

from typing import Any

import pytest
from django.test import Client

from modulith.conf import ModulithSettings
from modulith.modules.errors import ConfigurationError
from modulith.runtime import runtime
from modulith.runtime.transports import transport_kind
from tests.modulith.runtime.wire_loopback import WIRE_LOOPBACK, WireLoopback
from tests.shop import final, place, stock

PLUG_IN = "tests.modulith.runtime.wire_loopback:WIRE_LOOPBACK"

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def test_a_third_partys_transport_named_by_its_dotted_path_carries_the_saga(
    settings: Any, client: Client
) -> None:
    settings.MODULITH_TRANSPORT = PLUG_IN  # the runtime is rebuilt with the setting
    transport = runtime().transport
    assert isinstance(transport, WireLoopback)
    stock(client, "PLUG-1", 3)

    placed = place(client, ("PLUG-1", 1)).json()["orderId"]

    assert final(client, placed)["status"] == "CONFIRMED"
    assert transport.carried[:4] == [
        "OrderPlaced",
        "StockReserved",
        "PaymentCaptured",
        "OrderConfirmed",
    ]


def test_the_dotted_path_is_resolved_to_the_plug_ins_kind() -> None:
    assert transport_kind(PLUG_IN) is WIRE_LOOPBACK


@pytest.mark.parametrize(
    ("name", "says"),
    [
        (
            "tests.modulith.runtime.no_such_module:KIND",
            "MODULITH_TRANSPORT=tests.modulith.runtime.no_such_module:KIND cannot be loaded: "
            "ModuleNotFoundError",
        ),
        (
            "tests.modulith.runtime.wire_loopback:NO_SUCH_KIND",
            "MODULITH_TRANSPORT=tests.modulith.runtime.wire_loopback:NO_SUCH_KIND cannot be "
            "loaded: AttributeError",
        ),
        (
            "tests.modulith.runtime.wire_loopback:NOT_A_KIND",
            "MODULITH_TRANSPORT=tests.modulith.runtime.wire_loopback:NOT_A_KIND is no "
            "TransportKind",
        ),
    ],
)
def test_a_path_that_names_no_transport_kind_is_one_line(name: str, says: str) -> None:
    with pytest.raises(ConfigurationError) as refused:
        transport_kind(name)

    assert str(refused.value).startswith(says)
    assert "\n" not in str(refused.value)


def test_a_name_that_is_neither_a_transport_nor_a_path_is_refused_with_the_settings() -> None:
    with pytest.raises(ConfigurationError) as refused:
        ModulithSettings.load(object(), {"MODULITH_TRANSPORT": "kafka"})

    assert str(refused.value) == (
        "MODULITH_TRANSPORT must be one of inprocess, sqs, sns, eventbridge, or the dotted path "
        "of a TransportKind (package.module:NAME), not 'kafka'"
    )
