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
        ceiling = min(self.max_seconds, self.base_seconds * 2 ** max(attempts - 1, 0))
        return timedelta(seconds=random.uniform(ceiling / 2, ceiling))

    def exhausted(self, attempts: int) -> bool:
        return attempts >= self.max_attempts
