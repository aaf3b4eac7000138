import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from modulith.outbox.deadletters import dead_letters, replay
from modulith.runtime import runtime


class Command(BaseCommand):
    help = "Lists dead deliveries with their last error, or replays them."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        listing = actions.add_parser("list", help="show dead deliveries")
        listing.add_argument("--module", action="append", default=[])
        listing.add_argument("--format", choices=["text", "json"], default="text")
        replaying = actions.add_parser("replay", help="deliver dead deliveries again")
        replaying.add_argument("--module", action="append", default=[])
        which = replaying.add_mutually_exclusive_group(required=True)
        which.add_argument("--id", type=int, action="append", dest="ids", help="a delivery id")
        which.add_argument("--all", action="store_true", help="every dead delivery")

    def handle(self, *args: Any, action: str, module: list[str], **options: Any) -> None:
        aliases = self._aliases(module)
        if action == "list":
            self._list(aliases, options["format"])
        else:
            self._replay(aliases, None if options["all"] else options["ids"])

    def _aliases(self, names: list[str]) -> list[str]:
        topology = runtime().topology
        running = [m.name for m in topology.running_modules]
        for name in names:
            if name not in running:
                raise CommandError(f"{name} does not run here; running: {', '.join(running)}")
        return [topology.module(name).database for name in names or running]

    def _list(self, aliases: list[str], output: str) -> None:
        letters = dead_letters(aliases)
        if output == "json":
            self.stdout.write(json.dumps([letter.__dict__ for letter in letters], default=str))
            return
        if not letters:
            self.stdout.write("no dead letters")
        for letter in letters:
            when = letter.dead_at.isoformat(timespec="seconds") if letter.dead_at else "?"
            self.stdout.write(
                f"{letter.module}#{letter.delivery_id} {letter.event_name} {letter.event_id} "
                f"-> {letter.route}, {letter.attempts} attempt(s), dead since {when}: "
                f"{letter.last_error}"
            )

    def _replay(self, aliases: list[str], ids: list[int] | None) -> None:
        relay = runtime().relay
        for alias in aliases:
            report = replay(relay, alias, ids)
            if report.handled:
                self.stdout.write(f"{alias}: replayed {report.handled}: {report}")
