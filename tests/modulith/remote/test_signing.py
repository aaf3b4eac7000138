"""Signatures of internal calls."""

import time

import pytest

from modulith.remote.signing import (
    CALLER,
    NONCE,
    SIGNATURE,
    TIMESTAMP,
    SignatureRefused,
    Signer,
)

BODY = b'{"skus": ["KB-1"]}'
PATH = "/internal/inventory/InventoryQueries/prices"


def test_a_correctly_signed_fresh_call_is_accepted() -> None:
    signer = Signer("s3cret")
    headers = signer.headers("POST", PATH, BODY, caller="orders")

    assert signer.verify("POST", PATH, BODY, headers) == headers[NONCE]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [("GET", PATH, BODY), ("POST", PATH + "x", BODY), ("POST", PATH, b'{"skus": []}')],
)
def test_changing_method_path_or_body_breaks_the_signature(
    method: str, path: str, body: bytes
) -> None:
    signer = Signer("s3cret")
    headers = signer.headers("POST", PATH, BODY, caller="orders")

    with pytest.raises(SignatureRefused, match="does not match"):
        signer.verify(method, path, body, headers)


def test_the_callers_name_is_signed_with_the_rest() -> None:
    signer = Signer("s3cret")
    headers = signer.headers("POST", PATH, BODY, caller="orders")

    with pytest.raises(SignatureRefused, match="does not match"):
        signer.verify("POST", PATH, BODY, {**headers, CALLER: "payments"})
    with pytest.raises(SignatureRefused, match="does not match"):
        signer.verify("POST", PATH, BODY, {k: v for k, v in headers.items() if k != CALLER})


def test_another_secret_does_not_sign() -> None:
    headers = Signer("guess").headers("POST", PATH, BODY, caller="orders")

    with pytest.raises(SignatureRefused, match="does not match"):
        Signer("s3cret").verify("POST", PATH, BODY, headers)


def test_a_stale_signature_is_refused() -> None:
    signer = Signer("s3cret")
    old = str(int(time.time()) - 3600)
    headers = {
        TIMESTAMP: old,
        NONCE: "n1",
        CALLER: "orders",
        SIGNATURE: signer.signature("POST", PATH, BODY, old, "n1", "orders"),
    }

    with pytest.raises(SignatureRefused, match="stale"):
        signer.verify("POST", PATH, BODY, headers)


def test_an_unsigned_call_is_refused() -> None:
    with pytest.raises(SignatureRefused, match="not signed"):
        Signer("s3cret").verify("POST", PATH, BODY, {})
