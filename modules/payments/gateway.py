"""A simulated card gateway with the usual test-card tokens.

`tok_visa` (and any other token) is captured; a token starting with `tok_chargeDeclined`
(e.g. `tok_chargeDeclined`, `tok_chargeDeclinedInsufficientFunds`) is declined. Deterministic,
so the saga's outcomes can be asserted.
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
