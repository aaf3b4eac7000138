import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from modulith.management.selection import chosen_modules
from modulith.modules import Module
from modulith.runtime import runtime


class Command(BaseCommand):
    help = (
        "Lists dead deliveries with their last error, or replays them: deliveries the relay "
        "gave up on (every transport) and messages in the modules' SQS dead-letter queues "
        "(sqs, sns and eventbridge transports)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        listing = actions.add_parser("list", help="show dead deliveries")
        listing.add_argument("--module", action="append", default=[])
        listing.add_argument("--format", choices=["text", "json"], default="text")
        replaying = actions.add_parser("replay", help="deliver dead deliveries again")
        replaying.add_argument("--module", action="append", default=[])
        which = replaying.add_mutually_exclusive_group(required=True)
        which.add_argument(
            "--id",
            action="append",
            dest="ids",
            help="a delivery id (a number), or a dead message's message id or event id",
        )
        which.add_argument("--all", action="store_true", help="every dead delivery")

    def handle(self, *args: Any, action: str, module: list[str], **options: Any) -> None:
        modules = chosen_modules(module)
        if action == "list":
            self._list(modules, options["format"])
        else:
            self._replay(modules, None if options["all"] else set(options["ids"]))

    def _list(self, modules: list[Module], output: str) -> None:
        letters = [
            letter
            for place in runtime().dead_letters
            for m in modules
            for letter in place.letters(m)
        ]
        if output == "json":
            self.stdout.write(json.dumps([letter.as_json() for letter in letters], default=str))
        elif not letters:
            self.stdout.write("no dead letters")
        for letter in letters if output == "text" else []:
            self.stdout.write(str(letter))

    def _replay(self, modules: list[Module], ids: set[str] | None) -> None:
        for module in modules:
            for place in runtime().dead_letters:
                replayed = place.replay(module, ids)
                if replayed.count:
                    self.stdout.write(f"{module.name}: {replayed.summary}")
