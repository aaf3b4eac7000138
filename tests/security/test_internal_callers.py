"""A correctly signed call is answered only for the modules whose manifest uses the port: any
other caller, signed with a valid key, is refused with a 403 that names neither a secret nor
anything of the provider's internals."""

from typing import Any

import httpx
import pytest

from contracts.inventory import InventoryQueries
from modulith.contracts import ProviderError
from modulith.runtime import runtime
from tests.modulith.ports.remote.conftest import PRICES, running_only
from tests.security.conftest import CURRENT, leaks, signer
from tests.service import Service

pytestmark = [pytest.mark.django_db(transaction=True, databases="__all__"), pytest.mark.slow]

BODY = b'{"skus": ["KB-1"]}'


def test_a_process_whose_modules_do_not_use_the_port_is_refused(
    settings: Any, provider: Service
) -> None:
    """payments uses OrderQueries only: a payments service that asks inventory anyway signs as
    no module that uses InventoryQueries, and gets a 403."""
    urls = f"orders=http://127.0.0.1:9,inventory={provider.url}"
    running_only(settings, ["payments"], urls, keys=CURRENT)

    with pytest.raises(ProviderError) as refused:
        runtime().ports.resolve(InventoryQueries).prices(["KB-1"])

    assert str(refused.value) == (
        "inventory failed: HTTP 403: unknown does not use InventoryQueries: only modules whose "
        "manifest uses a port may call it"
    )


@pytest.mark.parametrize(
    ("caller", "stranger"),
    [("payments", "payments"), ("orders,payments", "payments"), ("nosuchmodule", "nosuchmodule")],
)
def test_a_signed_caller_that_does_not_use_the_port_gets_a_403_and_nothing_else(
    provider: Service, caller: str, stranger: str
) -> None:
    headers = signer(CURRENT).headers("POST", PRICES, BODY, caller)

    refused = httpx.post(provider.url + PRICES, content=BODY, headers=headers, timeout=10)

    assert refused.status_code == 403
    assert refused.json() == {
        "error": "forbidden",
        "message": f"{stranger} does not use InventoryQueries: only modules whose manifest "
        "uses a port may call it",
    }
    assert not leaks(refused.text, CURRENT)
    assert "Traceback" not in provider.output()


def test_a_module_that_uses_the_port_is_answered(provider: Service) -> None:
    headers = signer(CURRENT).headers("POST", PRICES, BODY, "orders")

    answered = httpx.post(provider.url + PRICES, content=BODY, headers=headers, timeout=10)

    assert answered.status_code == 200, answered.text
