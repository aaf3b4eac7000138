"""Transports: how an event leaves the outbox. The wire envelope, the one interface
every transport implements, and the in-process
transport; the AWS transports are `modulith.aws`'s."""

from modulith.transports.transport import DELIVERED, Outcome, Transport

__all__ = ["DELIVERED", "Outcome", "Transport"]
