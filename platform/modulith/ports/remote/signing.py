"""HMAC signatures of internal calls, over the method, the whole request target (path and query,
in a canonical form), the timestamp, a nonce, the calling modules, the key's id and the body.

A call is refused when unsigned or malformed (any signed header out of its strict form),
older (or newer) than the allowed clock skew, signed with a key the provider does not hold,
or when any signed part was changed. Replays are refused by the provider, which remembers the
nonces it has seen (`modulith.ports.remote.nonces`).

Nothing here raises on what a caller sends: every header is parsed against a bounded,
ASCII-only pattern before anything is converted, hashed or looked up.
"""

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote

from django.views.decorators.debug import sensitive_variables

from modulith.conf.keys import KEY_ID, SigningKey, SigningKeys

TIMESTAMP = "X-Modulith-Timestamp"
NONCE = "X-Modulith-Nonce"
SIGNATURE = "X-Modulith-Signature"
CALLER = "X-Modulith-Caller"
KEY = "X-Modulith-Key-Id"
# The first line of what is signed: names the scheme, so that a later one cannot be confused
# with it.
ALGORITHM = "MODULITH-HMAC-SHA256"
MAX_SKEW_SECONDS = 60
# A query string of more parameters than this is refused rather than parsed.
MAX_QUERY_PARAMETERS = 100

_FORMS = {
    TIMESTAMP: re.compile(r"[0-9]{1,12}", re.ASCII),
    NONCE: re.compile(r"[A-Za-z0-9_-]{16,64}", re.ASCII),
    SIGNATURE: re.compile(r"[0-9a-f]{64}", re.ASCII),
    CALLER: re.compile(
        r"[A-Za-z_][A-Za-z0-9_]{0,63}(,[A-Za-z_][A-Za-z0-9_]{0,63}){0,15}", re.ASCII
    ),
    KEY: KEY_ID,
}
# Characters a canonical path or query keeps as they are (RFC 3986's unreserved), as SigV4.
_UNRESERVED = "-_.~"


class SignatureRefused(Exception):
    """The request is not signed by someone who holds one of the provider's keys."""


@dataclass(frozen=True)
class SignedHeaders:
    """The signed headers of a request, each in its strict form."""

    timestamp: int
    nonce: str
    signature: str
    callers: tuple[str, ...]
    key_id: str

    @classmethod
    def parse(cls, headers: Mapping[str, str]) -> "SignedHeaders | None":
        """The headers, or None when one is missing or out of its form (which a caller is
        told exactly as if it had not signed at all)."""
        values: dict[str, str] = {}
        for name, form in _FORMS.items():
            value = headers.get(name)
            if not isinstance(value, str) or not form.fullmatch(value):
                return None
            values[name] = value
        return cls(
            timestamp=int(values[TIMESTAMP]),  # at most 12 ASCII digits by now
            nonce=values[NONCE],
            signature=values[SIGNATURE],
            callers=tuple(values[CALLER].split(",")),
            key_id=values[KEY],
        )


def canonical_target(path: str, query: str) -> str:
    """The request target as signed: the path with every byte outside the unreserved set
    percent-encoded, and the query's parameters decoded, sorted and encoded the same way.
    `path` is decoded (as Django's request.path is); raises ValueError for a query of more
    than MAX_QUERY_PARAMETERS parameters."""
    pairs = parse_qsl(query, keep_blank_values=True, max_num_fields=MAX_QUERY_PARAMETERS)
    canonical_query = "&".join(
        f"{quote(name, safe=_UNRESERVED)}={quote(value, safe=_UNRESERVED)}"
        for name, value in sorted(pairs)
    )
    canonical_path = quote(path, safe="/" + _UNRESERVED)
    return f"{canonical_path}?{canonical_query}" if canonical_query else canonical_path


@dataclass(frozen=True)
class Signer:
    """Signs with the current key of `keys`, verifies with any of them."""

    keys: SigningKeys

    def headers(self, method: str, target: str, body: bytes, caller: str) -> dict[str, str]:
        key = self.keys.current
        timestamp = str(int(time.time()))
        nonce = secrets.token_hex(16)
        message = _message(method, target, body, timestamp, nonce, caller, key.id)
        return {
            TIMESTAMP: timestamp,
            NONCE: nonce,
            CALLER: caller,
            KEY: key.id,
            SIGNATURE: _mac(key, message),
        }

    def key_for(self, signed: SignedHeaders, *, now: float | None = None) -> SigningKey:
        """The key that must have signed, for a fresh signature; what can be refused before
        the body is read."""
        if abs((time.time() if now is None else now) - signed.timestamp) > MAX_SKEW_SECONDS:
            raise SignatureRefused("the signature is stale")
        key = self.keys.get(signed.key_id)
        if key is None:
            raise SignatureRefused("the signing key is not one this service accepts")
        return key

    def verify(self, method: str, target: str, body: bytes, signed: SignedHeaders) -> None:
        """Returns for a fresh request signed with one of the keys; raises SignatureRefused
        otherwise."""
        key = self.key_for(signed)
        message = _message(
            method,
            target,
            body,
            str(signed.timestamp),
            signed.nonce,
            ",".join(signed.callers),
            signed.key_id,
        )
        if not hmac.compare_digest(_mac(key, message), signed.signature):
            raise SignatureRefused("the signature does not match")


def _message(
    method: str, target: str, body: bytes, timestamp: str, nonce: str, caller: str, key_id: str
) -> str:
    digest = hashlib.sha256(body).hexdigest()
    return "\n".join([ALGORITHM, method.upper(), target, timestamp, nonce, caller, key_id, digest])


@sensitive_variables("secret")
def _mac(key: SigningKey, message: str) -> str:
    secret = key.secret
    return hmac.new(secret, message.encode(), hashlib.sha256).hexdigest()
