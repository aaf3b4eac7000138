"""A simulated card gateway with the usual test-card tokens.

`tok_visa` (and any other token) is captured; a token starting with `tok_chargeDeclined`
(e.g. `tok_chargeDeclined`, `tok_chargeDeclinedInsufficientFunds`) is declined. A captured
charge can be refunded, whole. Deterministic, so the saga's outcomes can be asserted.
"""

import hashlib
from dataclasses import dataclass
from decimal import Decimal
from uuid import UUID

DECLINING_PREFIX = "tok_chargeDeclined"


@dataclass(frozen=True)
class Charge:
    captured: bool
    reference: str
    decline_reason: str = ""


def charge(*, token: str, amount: Decimal, currency: str, idempotency_key: UUID) -> Charge:
    # The same key always yields the same reference, as a real gateway's idempotency does.
    reference = "ch_" + hashlib.sha256(str(idempotency_key).encode()).hexdigest()[:24]
    if token.startswith(DECLINING_PREFIX):
        return Charge(captured=False, reference=reference, decline_reason="card_declined")
    return Charge(captured=True, reference=reference)


@dataclass(frozen=True)
class Refund:
    reference: str


def refund(*, charge_reference: str, amount: Decimal, currency: str) -> Refund:
    """Gives a captured charge back, whole; idempotent by the charge, as a real gateway's
    refund with the charge as its idempotency key."""
    return Refund(reference="re_" + hashlib.sha256(charge_reference.encode()).hexdigest()[:24])
