"""Forged, malformed, oversized, replayed and moved signatures, sent to a running provider: each
is refused with a 401 and changes nothing; whatever is malformed gets exactly the answer of an
unsigned call; and the provider never raises on any of it (no traceback in its log)."""

import time
from typing import Any

import httpx
import pytest

from modulith.ports.remote.signing import CALLER, KEY, NONCE, SIGNATURE, TIMESTAMP, canonical_target
from tests.modulith.ports.remote.conftest import PRICES
from tests.security.conftest import CURRENT, key, leaks, signer
from tests.service import Service

pytestmark = [pytest.mark.django_db(transaction=True, databases="__all__"), pytest.mark.slow]

BODY = b'{"skus": ["KB-1"]}'
SIGNER = signer(CURRENT)


def post(
    provider: Service, target: str, headers: dict[str, Any], body: bytes = BODY
) -> httpx.Response:
    return httpx.post(provider.url + target, content=body, headers=headers, timeout=10)


def signed(target: str = PRICES, body: bytes = BODY, caller: str = "orders") -> dict[str, str]:
    return SIGNER.headers("POST", target, body, caller)


def assert_calm(provider: Service) -> None:
    """Nothing the attacks sent made the provider raise, or log a key."""
    output = provider.output()
    assert "Traceback" not in output
    assert not leaks(output, CURRENT), "the provider's log shows its key"


def on_the_wire(value: str | bytes) -> bytes:
    """A header's bytes: as WSGI reads them back (latin-1) where it can, else UTF-8."""
    if isinstance(value, bytes):
        return value
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode()


def unsigned_answer(provider: Service) -> httpx.Response:
    return post(provider, PRICES, {})


GOOD = signed()
# (what is wrong, the header, its value: text, or bytes sent as they are)
MALFORMED: list[tuple[str, str, str | bytes | None]] = [
    ("a superscript two, a digit to str.isdigit", TIMESTAMP, "²"),
    ("five thousand digits, past what int() converts", TIMESTAMP, "9" * 5000),
    ("fullwidth digits", TIMESTAMP, "\uff11\uff17\uff10\uff10"),
    ("a negative timestamp", TIMESTAMP, "-1700000000"),
    ("bytes that are not ASCII", NONCE, b"\xff\xfe\xfd" * 8),
    ("an 8,000-character nonce", NONCE, "n" * 8000),
    ("a nonce with spaces inside", NONCE, "n" * 16 + " " * 16 + "n"),
    ("a signature of another length", SIGNATURE, "0" * 63),
    ("a signature that is not hex", SIGNATURE, "z" * 64),
    ("a caller that is not a name", CALLER, "orders; DROP TABLE"),
    ("a key id with a path in it", KEY, "../current"),
    ("no timestamp", TIMESTAMP, None),
    ("no nonce", NONCE, None),
    ("no signature", SIGNATURE, None),
    ("no caller", CALLER, None),
    ("no key id", KEY, None),
]


@pytest.mark.parametrize(
    ("header", "value"), [case[1:] for case in MALFORMED], ids=[case[0] for case in MALFORMED]
)
def test_a_malformed_signature_gets_exactly_the_answer_of_an_unsigned_call(
    provider: Service, header: str, value: str | bytes | None
) -> None:
    headers: dict[str, Any] = {name: v for name, v in GOOD.items() if name != header}
    if value is not None:
        headers[header] = on_the_wire(value)

    refused = post(provider, PRICES, headers)

    unsigned = unsigned_answer(provider)
    assert (refused.status_code, refused.content) == (unsigned.status_code, unsigned.content)
    assert unsigned.status_code == 401
    assert unsigned.json() == {"error": "unauthorized", "message": "the call is not signed"}
    assert_calm(provider)


@pytest.mark.parametrize(
    "path",
    [
        PRICES,
        "/internal/inventory/NoSuchQueries/prices",
        "/internal/nothing-here",
        "/internal/inventory/InventoryQueries/prices/and/more",
    ],
)
@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
def test_every_path_and_method_under_internal_answers_an_unsigned_call_alike(
    provider: Service, path: str, method: str
) -> None:
    answer = httpx.request(method, provider.url + path, content=BODY, timeout=10)

    unsigned = unsigned_answer(provider)
    assert (answer.status_code, answer.content) == (unsigned.status_code, unsigned.content)


def test_a_query_of_thousands_of_parameters_is_refused_like_an_unsigned_call(
    provider: Service,
) -> None:
    """More than Django parses (DATA_UPLOAD_MAX_NUMBER_FIELDS): nothing may raise on it before
    the signature, not even the middleware that reads the query for its log fields."""
    target = PRICES + "?" + "a&" * 1500  # within gunicorn's 4,094 bytes of request line

    refused = post(provider, target, signed())

    assert refused.status_code == 401
    assert refused.content == unsigned_answer(provider).content
    assert_calm(provider)


def test_a_body_larger_than_django_reads_is_refused_without_reading_it(provider: Service) -> None:
    body = b'{"skus": ["' + b"K" * 3_000_000 + b'"]}'  # past DATA_UPLOAD_MAX_MEMORY_SIZE

    refused = post(provider, PRICES, signed(body=body), body)

    assert refused.status_code == 401
    assert refused.content == unsigned_answer(provider).content
    assert_calm(provider)


def test_a_body_other_than_the_one_signed_is_refused(provider: Service) -> None:
    refused = post(provider, PRICES, signed(body=b'{"skus": ["KB-2"]}'), BODY)

    assert refused.status_code == 401
    assert refused.json()["message"] == "the signature does not match"


def test_a_replayed_signature_is_refused_after_the_first_call_is_answered(
    provider: Service,
) -> None:
    headers = signed()

    first = post(provider, PRICES, headers)
    replays = [post(provider, PRICES, headers) for _ in range(3)]

    assert first.status_code == 200, first.text
    assert [r.status_code for r in replays] == [401, 401, 401]
    assert {r.json()["message"] for r in replays} == {"the signature was already used (a replay)"}


def test_a_signature_captured_and_sent_again_later_is_stale(provider: Service) -> None:
    headers = signed() | {TIMESTAMP: str(int(time.time()) - 3600)}

    refused = post(provider, PRICES, headers)

    assert refused.status_code == 401
    assert refused.json()["message"] == "the signature is stale"


@pytest.mark.parametrize(
    ("signed_for", "sent_to"),
    [
        (PRICES, PRICES + "?x=1"),
        (PRICES + "?limit=1", PRICES + "?limit=1000"),
        (PRICES + "?limit=1", PRICES),
        (PRICES, "/internal/inventory/InventoryQueries/prices/"),
        (PRICES, "/internal/orders/OrderQueries/payment_request"),
    ],
    ids=["a query added", "the query changed", "the query dropped", "a slash", "another port"],
)
def test_a_signature_moved_to_another_target_is_refused(
    provider: Service, signed_for: str, sent_to: str
) -> None:
    path, _, query = signed_for.partition("?")

    refused = post(provider, sent_to, signed(canonical_target(path, query)))

    assert refused.status_code == 401
    assert refused.json()["message"] == "the signature does not match"


def test_the_query_is_signed_in_its_canonical_order(provider: Service) -> None:
    headers = signed(canonical_target(PRICES, "b=2&a=1"))

    answered = post(provider, PRICES + "?a=1&b=2", headers)

    assert answered.status_code == 200, answered.text


def test_a_key_the_provider_does_not_hold_is_refused(provider: Service) -> None:
    stranger = signer(key("current-2"))

    refused = post(provider, PRICES, stranger.headers("POST", PRICES, BODY, "orders"))
    guessed = post(provider, PRICES, signer(key("current")).headers("POST", PRICES, BODY, "orders"))

    assert refused.json()["message"] == "the signing key is not one this service accepts"
    assert guessed.json()["message"] == "the signature does not match"
    assert_calm(provider)
