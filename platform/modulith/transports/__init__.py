"""Transports: how an event leaves the outbox. Chosen once, in `modulith.bootstrap`."""

from modulith.outbox.transport import DELIVERED, Outcome, Transport

__all__ = ["DELIVERED", "Outcome", "Transport"]
