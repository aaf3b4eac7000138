"""A circuit breaker per provider: after repeated failures, fail fast for a while instead of
making every caller wait out the timeouts of a service that is down."""

import threading
import time
from dataclasses import dataclass, field


@dataclass
class CircuitBreaker:
    failure_threshold: int = 5
    reset_seconds: float = 10.0
    _failures: int = 0
    _opened_at: float | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def allows(self) -> bool:
        """Closed: yes. Open: no, until `reset_seconds` have passed since it opened (or since
        the last trial began); then one trial call (half-open) decides: its success closes
        the breaker, its failure opens it again for another `reset_seconds`."""
        with self._lock:
            if self._opened_at is None:
                return True
            if time.monotonic() - self._opened_at >= self.reset_seconds:
                self._opened_at = time.monotonic()  # one trial per reset period
                return True
            return False

    def succeeded(self) -> None:
        with self._lock:
            self._failures = 0
            self._opened_at = None

    def failed(self) -> None:
        with self._lock:
            self._failures += 1
            if self._failures >= self.failure_threshold:
                self._opened_at = time.monotonic()
