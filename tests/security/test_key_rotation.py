"""A key rotates without a refused call: the provider verifies with the new key and the old,
while callers move from signing with the old to signing with the new; once the old key is
removed, a call signed with it is refused."""

from pathlib import Path
from typing import Any

import pytest

from modulith.contracts import ProviderError
from tests.security.conftest import ask_inventory, key, leaks, provider_with_keys

pytestmark = [pytest.mark.django_db(transaction=True, databases="__all__"), pytest.mark.slow]

OLD, NEW = key("2024-01"), key("2024-07")


def test_a_key_rotates_without_a_refused_call_and_the_old_one_is_refused_once_removed(
    settings: Any, tmp_path: Path
) -> None:
    with provider_with_keys(tmp_path, "inventory-both-keys", f"{NEW},{OLD}") as provider:
        assert ask_inventory(settings, provider.url, OLD) == []  # a caller not rotated yet
        assert (
            ask_inventory(settings, provider.url, f"{NEW},{OLD}") == []
        )  # one that signs with the new
        assert ask_inventory(settings, provider.url, OLD) == []  # both at once, during the rollout

    with provider_with_keys(tmp_path, "inventory-new-key", NEW) as provider:
        assert ask_inventory(settings, provider.url, NEW) == []
        with pytest.raises(ProviderError) as refused:
            ask_inventory(settings, provider.url, OLD)
        output = provider.output()

    assert str(refused.value) == (
        "inventory failed: HTTP 401: the signing key is not one this service accepts"
    )
    assert "refused an internal call from orders: the signing key is not one" in output
    assert "(key 2024-01)" in output  # the key's id, for whoever rotates
    assert not leaks(output, OLD, NEW), "the provider's log shows a key"
