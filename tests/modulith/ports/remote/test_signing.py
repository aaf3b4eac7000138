"""Signatures of internal calls: what they cover, the strict form of every signed header, and
keys with ids."""

import time

import pytest

from modulith.conf.keys import SigningKeys
from modulith.ports.remote.signing import (
    CALLER,
    KEY,
    NONCE,
    SIGNATURE,
    TIMESTAMP,
    SignatureRefused,
    SignedHeaders,
    Signer,
    canonical_target,
)

BODY = b'{"skus": ["KB-1"]}'
PATH = "/internal/inventory/InventoryQueries/prices"
SIGNER = Signer(SigningKeys.parse("keys", "k1:s3cret-one"))


def verify(signer: Signer, headers: dict[str, str], target: str = PATH, body: bytes = BODY) -> None:
    signed = SignedHeaders.parse(headers)
    assert signed is not None
    signer.verify("POST", target, body, signed)


def test_a_correctly_signed_fresh_call_is_accepted() -> None:
    headers = SIGNER.headers("POST", PATH, BODY, caller="orders")

    verify(SIGNER, headers)
    assert headers[KEY] == "k1"


@pytest.mark.parametrize(
    ("method", "target", "body"),
    [
        ("GET", PATH, BODY),
        ("POST", PATH + "x", BODY),
        ("POST", PATH + "?x=1", BODY),
        ("POST", PATH, b'{"skus": []}'),
    ],
)
def test_changing_method_target_or_body_breaks_the_signature(
    method: str, target: str, body: bytes
) -> None:
    headers = SIGNER.headers("POST", PATH, BODY, caller="orders")
    signed = SignedHeaders.parse(headers)
    assert signed is not None

    with pytest.raises(SignatureRefused, match="does not match"):
        SIGNER.verify(method, target, body, signed)


def test_the_callers_name_and_the_key_id_are_signed_with_the_rest() -> None:
    both = Signer(SigningKeys.parse("keys", "k1:s3cret-one,k2:s3cret-one"))
    headers = both.headers("POST", PATH, BODY, caller="orders")

    with pytest.raises(SignatureRefused, match="does not match"):
        verify(both, {**headers, CALLER: "payments"})
    with pytest.raises(SignatureRefused, match="does not match"):
        verify(both, {**headers, KEY: "k2"})  # the same secret, another id


def test_the_query_is_signed_in_a_canonical_form() -> None:
    assert canonical_target(PATH, "b=2&a=1&a=0") == PATH + "?a=0&a=1&b=2"
    assert canonical_target(PATH, "q=a+b&r=%7e") == PATH + "?q=a%20b&r=~"
    assert canonical_target("/internal/x y/é", "") == "/internal/x%20y/%C3%A9"
    headers = SIGNER.headers("POST", canonical_target(PATH, "b=2&a=1"), BODY, "orders")

    verify(SIGNER, headers, canonical_target(PATH, "a=1&b=2"))
    with pytest.raises(SignatureRefused, match="does not match"):
        verify(SIGNER, headers, canonical_target(PATH, "a=1&b=2&x=1"))


def test_a_query_of_too_many_parameters_is_refused_rather_than_parsed() -> None:
    with pytest.raises(ValueError, match="Max number of fields exceeded"):
        canonical_target(PATH, "&".join(f"p{n}=1" for n in range(101)))


def test_any_of_the_keys_verifies_and_the_first_signs() -> None:
    old = Signer(SigningKeys.parse("keys", "old:the-old-secret"))
    rotating = Signer(SigningKeys.parse("keys", "new:the-new-secret,old:the-old-secret"))
    new_only = Signer(SigningKeys.parse("keys", "new:the-new-secret"))

    verify(rotating, old.headers("POST", PATH, BODY, "orders"))
    verify(new_only, rotating.headers("POST", PATH, BODY, "orders"))
    with pytest.raises(SignatureRefused, match="not one this service accepts"):
        verify(new_only, old.headers("POST", PATH, BODY, "orders"))


def test_another_secret_under_the_same_id_does_not_sign() -> None:
    headers = Signer(SigningKeys.parse("keys", "k1:a-guess")).headers("POST", PATH, BODY, "x")

    with pytest.raises(SignatureRefused, match="does not match"):
        verify(SIGNER, headers)


def test_a_stale_signature_is_refused() -> None:
    headers = SIGNER.headers("POST", PATH, BODY, caller="orders")
    signed = SignedHeaders.parse(headers)
    assert signed is not None

    with pytest.raises(SignatureRefused, match="stale"):
        SIGNER.key_for(signed, now=time.time() + 3600)


GOOD = SIGNER.headers("POST", PATH, BODY, caller="orders")
# (what is wrong, the header, its value)
MALFORMED = [
    ("a digit to str.isdigit but not to int", TIMESTAMP, "²"),
    ("fullwidth digits", TIMESTAMP, "\uff11\uff17\uff10\uff10"),
    ("past the digits int() converts", TIMESTAMP, "9" * 5000),
    ("a sign", TIMESTAMP, "-1"),
    ("a space", TIMESTAMP, " 1700000000"),
    ("empty", TIMESTAMP, ""),
    ("a short nonce", NONCE, "short"),
    ("a long nonce", NONCE, "n" * 65),
    ("a non-ASCII nonce", NONCE, "ñ" * 20),
    ("an upper-case signature", SIGNATURE, GOOD[SIGNATURE].upper()),
    ("a signature a digit short", SIGNATURE, GOOD[SIGNATURE][:-1]),
    ("a header injected in the caller", CALLER, "orders\nX-Injected: 1"),
    ("an empty caller in the list", CALLER, "orders,"),
    ("seventeen callers", CALLER, "a," * 16 + "a"),
    ("a path in the key id", KEY, "k1/../k2"),
    ("a long key id", KEY, "k" * 65),
]


@pytest.mark.parametrize(
    ("header", "value"), [case[1:] for case in MALFORMED], ids=[case[0] for case in MALFORMED]
)
def test_a_signed_header_out_of_its_strict_form_is_no_signature_at_all(
    header: str, value: str
) -> None:
    assert SignedHeaders.parse({**GOOD, header: value}) is None


@pytest.mark.parametrize("missing", [TIMESTAMP, NONCE, SIGNATURE, CALLER, KEY])
def test_a_call_missing_a_signed_header_is_unsigned(missing: str) -> None:
    assert SignedHeaders.parse({k: v for k, v in GOOD.items() if k != missing}) is None


def test_the_signer_and_its_keys_never_show_a_secret() -> None:
    shown = repr(SIGNER) + str(SIGNER) + repr(SIGNER.keys.current) + repr(list(SIGNER.keys))

    assert "s3cret" not in shown
    assert "k1" in shown
