"""Which running modules a command works on (`--module`, repeatable; none: all of them)."""

from django.core.management.base import CommandError

from modulith.modules import Module
from modulith.runtime import runtime


def chosen_modules(names: list[str]) -> list[Module]:
    running = runtime().topology.running_modules
    unknown = sorted(set(names) - {m.name for m in running})
    if unknown:
        raise CommandError(
            f"{', '.join(unknown)} does not run here; running: {', '.join(m.name for m in running)}"
        )
    return [m for m in running if not names or m.name in names]
