import json
from dataclasses import asdict
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from modulith.management.selection import chosen_modules
from modulith.modules import Module
from modulith.outbox.deadletters import dead_letters, replay
from modulith.runtime import runtime


class Command(BaseCommand):
    help = (
        "Lists dead deliveries with their last error, or replays them: deliveries the relay "
        "gave up on (every transport) and messages in the modules' SQS dead-letter queues "
        "(sqs and eventbridge transports)."
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
        current = runtime()
        letters = [
            asdict(letter) | {"kind": "delivery"}
            for letter in dead_letters(m.database for m in modules)
        ]
        if current.uses_queues:
            letters += [
                asdict(message) | {"kind": "queue"}
                for module in modules
                if module.handles
                for message in current.aws.dead_letters.peek(module.name, database=module.database)
            ]
        if output == "json":
            self.stdout.write(json.dumps(letters, default=str))
        elif not letters:
            self.stdout.write("no dead letters")
        for letter in letters if output == "text" else []:
            self.stdout.write(_line(letter))

    def _replay(self, modules: list[Module], ids: set[str] | None) -> None:
        current = runtime()
        delivery_ids = None if ids is None else [int(i) for i in ids if i.isdigit()]
        for module in modules:
            report = replay(current.relay, module.database, delivery_ids)
            if report.handled:
                self.stdout.write(f"{module.name}: replayed {report.handled} deliveries: {report}")
            if current.uses_queues and module.handles:
                count = current.aws.dead_letters.replay(module.name, ids)
                if count:
                    self.stdout.write(f"{module.name}: {count} dead message(s) back on the queue")


def _line(letter: dict[str, Any]) -> str:
    if letter["kind"] == "delivery":
        when = letter["dead_at"].isoformat(timespec="seconds") if letter["dead_at"] else "?"
        return (
            f"{letter['module']}#{letter['delivery_id']} {letter['event_name']} "
            f"{letter['event_id']} -> {letter['route']}, {letter['attempts']} attempt(s), "
            f"dead since {when}: {letter['last_error']}"
        )
    return (
        f"{letter['module']} queue message {letter['message_id']} {letter['event_name']} "
        f"{letter['event_id']}: {letter['reason']}"
    )
