"""MODULITH_INTERNAL_KEYS: keys with ids, the first signing; MODULITH_INTERNAL_SECRET as the
one key `default`; errors that name the setting and the pair, never the secret."""

from types import SimpleNamespace
from typing import Any

import pytest
from django.conf import settings as django_settings

from modulith.conf import ModulithSettings
from modulith.conf.keys import SigningKeys
from modulith.modules.errors import ConfigurationError

SECRETS = ("first-secret-value", "second-secret-value")


def load(environ: dict[str, str] | None = None, /, **project: Any) -> ModulithSettings:
    return ModulithSettings.load(
        SimpleNamespace(MODULITH_MANIFESTS=django_settings.MODULITH_MANIFESTS, **project),
        environ or {},
    )


def test_the_first_key_signs_and_every_key_is_known_by_its_id() -> None:
    keys = load({"MODULITH_INTERNAL_KEYS": "k2:second-secret-value, k1:first-secret-value"})
    ring = keys.internal_keys

    assert ring.ids == ("k2", "k1")
    assert ring.current.id == "k2"
    first = ring.get("k1")
    assert first is not None
    assert first.secret == b"first-secret-value"
    assert ring.get("k3") is None


def test_a_django_setting_may_list_the_pairs() -> None:
    keys = load(MODULITH_INTERNAL_KEYS=["k1:first-secret-value", "k2:second-secret-value"])

    assert keys.internal_keys.ids == ("k1", "k2")


def test_the_internal_secret_of_earlier_versions_is_the_key_default() -> None:
    single = load({"MODULITH_INTERNAL_SECRET": "first-secret-value"}).internal_keys
    explicit = load({"MODULITH_INTERNAL_KEYS": "default:first-secret-value"}).internal_keys

    assert single == explicit
    assert load().internal_keys == SigningKeys()  # neither: internal calls are off


def test_keys_and_the_single_secret_together_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="are both set: keep MODULITH_INTERNAL_KEYS"):
        load(
            {
                "MODULITH_INTERNAL_KEYS": "k1:first-secret-value",
                "MODULITH_INTERNAL_SECRET": "second-secret-value",
            }
        )


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("first-secret-value", "key #1 must be id:secret"),
        ("k1:first-secret-value,k2:", "key #2 must be id:secret"),
        ("k 1:first-secret-value", "key #1 must have an id of 1 to 64 letters"),
        ("k1:first-secret-value,k1:second-secret-value", "each key its own id: 'k1' is twice"),
        (",".join(f"k{n}:first-secret-value" for n in range(11)), "at most 10 keys, not 11"),
    ],
)
def test_a_bad_key_is_one_line_that_never_shows_a_secret(value: str, says: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        load({"MODULITH_INTERNAL_KEYS": value})

    message = str(raised.value)
    assert says in message
    assert message.startswith("MODULITH_INTERNAL_KEYS")
    assert not any(secret in message for secret in SECRETS)


def test_secret_settings_of_the_wrong_kind_are_refused_without_their_value() -> None:
    for name in ("MODULITH_INTERNAL_SECRET", "MODULITH_API_KEYS", "MODULITH_INTERNAL_KEYS"):
        with pytest.raises(ConfigurationError) as raised:
            load(**{name: 1234567890})
        assert "1234567890" not in str(raised.value), name


def test_the_settings_object_never_shows_a_secret() -> None:
    loaded = load(
        {"MODULITH_INTERNAL_KEYS": "k1:first-secret-value", "MODULITH_API_KEYS": "an-api-key"}
    )
    shown = repr(loaded) + str(loaded)

    assert not any(secret in shown for secret in (*SECRETS, "an-api-key"))
