"""When to try a failed delivery again."""

import random
from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter, capped, and a bounded number of attempts."""

    max_attempts: int = 5
    base_seconds: float = 1.0
    max_seconds: float = 300.0

    def delay(self, attempts: int) -> timedelta:
        """The wait after the `attempts`-th failure: half fixed, half random ("equal jitter"),
        so retries spread out without ever coming back at once."""
        # The exponent is capped: past 2**64 the cap is reached whatever the base, and a count
        # read from outside must not buy a number of a billion digits.
        exponent = min(max(attempts - 1, 0), 64)
        ceiling = min(self.max_seconds, self.base_seconds * 2**exponent)
        return timedelta(seconds=random.uniform(ceiling / 2, ceiling))

    def exhausted(self, attempts: int) -> bool:
        return attempts >= self.max_attempts
