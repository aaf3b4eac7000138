"""Transports: how an event leaves the outbox. Chosen once, in `modulith.bootstrap`."""

from modulith.transports.base import DELIVERED, Outcome, Transport

__all__ = ["DELIVERED", "Outcome", "Transport"]
