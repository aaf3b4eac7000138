"""HMAC signatures of internal calls: over method, path, timestamp, nonce, the caller's module
name and the body.

A call is refused when unsigned, signed with another secret, older (or newer) than the
allowed clock skew, or when any signed part (the caller's name included) was changed.
Replays are refused by the provider, which remembers the nonces it has seen.
"""

import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass

TIMESTAMP = "X-Modulith-Timestamp"
NONCE = "X-Modulith-Nonce"
SIGNATURE = "X-Modulith-Signature"
CALLER = "X-Modulith-Caller"
MAX_SKEW_SECONDS = 60


class SignatureRefused(Exception):
    """The request is not signed by someone who knows the internal secret, or is a replay."""


@dataclass(frozen=True)
class Signer:
    secret: str

    def headers(self, method: str, path: str, body: bytes, caller: str) -> dict[str, str]:
        timestamp = str(int(time.time()))
        nonce = secrets.token_hex(16)
        return {
            TIMESTAMP: timestamp,
            NONCE: nonce,
            CALLER: caller,
            SIGNATURE: self.signature(method, path, body, timestamp, nonce, caller),
        }

    def signature(
        self, method: str, path: str, body: bytes, timestamp: str, nonce: str, caller: str
    ) -> str:
        message = "\n".join(
            [method.upper(), path, timestamp, nonce, caller, hashlib.sha256(body).hexdigest()]
        )
        return hmac.new(self.secret.encode(), message.encode(), hashlib.sha256).hexdigest()

    def verify(self, method: str, path: str, body: bytes, headers: Mapping[str, str]) -> str:
        """The nonce of a correctly signed, fresh request; raises SignatureRefused otherwise."""
        timestamp, nonce, given = (headers.get(h, "") for h in (TIMESTAMP, NONCE, SIGNATURE))
        if not (timestamp and nonce and given):
            raise SignatureRefused("the call is not signed")
        if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > MAX_SKEW_SECONDS:
            raise SignatureRefused("the signature is stale")
        caller = headers.get(CALLER, "")
        expected = self.signature(method, path, body, timestamp, nonce, caller)
        if not hmac.compare_digest(expected, given):
            raise SignatureRefused("the signature does not match")
        return nonce
