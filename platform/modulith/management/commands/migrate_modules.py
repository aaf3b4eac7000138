from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from modulith.runtime import runtime


class Command(BaseCommand):
    help = (
        "Migrates Django's own database and the database of every module running here "
        "(`migrate` once per database)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--check", action="store_true", help="fail if a migration is missing")

    def handle(self, *args: Any, check: bool, **options: Any) -> None:
        aliases = list(dict.fromkeys(["default", *runtime().topology.running_databases]))
        for alias in aliases:
            self.stdout.write(f"migrating {alias}")
            call_command(
                "migrate",
                database=alias,
                interactive=False,
                check_unapplied=check,
                verbosity=max(0, options["verbosity"] - 1),
            )
