from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from modulith.conf import parse_duration
from modulith.management.selection import chosen_modules
from modulith.modules.errors import ConfigurationError
from modulith.runtime import runtime


class Command(BaseCommand):
    help = (
        "Purges what the outbox and the inbox no longer need: delivered events older than "
        "MODULITH_OUTBOX_RETENTION (or --older-than), inbox records older than "
        "MODULITH_INBOX_RETENTION. Pending deliveries and dead letters are never purged. The "
        "periodic sweep does the same in bounded batches; this runs until done."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        purge = actions.add_parser("purge", help="delete what is past its retention")
        purge.add_argument("--module", action="append", default=[], help="only this module")
        purge.add_argument(
            "--older-than",
            help="delivered events older than this (90, 30m, 12h, 7d) instead of the setting",
        )

    def handle(self, *args: Any, action: str, module: list[str], **options: Any) -> None:
        retention = runtime().relay.retention
        older_than = None
        if options["older_than"] is not None:
            try:
                older_than = parse_duration("--older-than", options["older_than"])
            except ConfigurationError as error:
                raise CommandError(str(error)) from None
        for chosen in chosen_modules(module):
            report = retention.purge(chosen.database, outbox=older_than)
            self.stdout.write(f"{chosen.name}: {report}")
