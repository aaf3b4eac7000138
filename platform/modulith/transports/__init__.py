"""Transports: how an event leaves the outbox. The wire envelope, the one interface
every transport implements with the one vocabulary of outcomes, and the in-process
transport; the AWS transports are `modulith.aws`'s."""

from modulith.transports.transport import DELIVERED, Outcome, Settled, Tally, Transport

__all__ = ["DELIVERED", "Outcome", "Settled", "Tally", "Transport"]
