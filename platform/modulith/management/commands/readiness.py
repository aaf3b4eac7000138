from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from modulith.errors import ConfigurationError
from modulith.management.selection import chosen_modules
from modulith.readiness import module_ties, readiness_lines
from modulith.readiness.queries import read_queries
from modulith.runtime import runtime


class Command(BaseCommand):
    help = (
        "The split-readiness report: per module, what stands between it and a database of its "
        "own (relations across module lines, the user model, signals, and, from the test "
        "suite, joins and transactions across modules), each with the event or query port "
        "that would replace it. Exits 1 while any remains, for CI."
    )
    # The report is about the project as it is, ties and all: the checks would stop it.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("module", nargs="*", help="only these modules (default: all)")
        parser.add_argument(
            "--queries",
            type=Path,
            help="the file `pytest --modulith-queries FILE` wrote: its joins and transactions",
        )

    def handle(self, *args: Any, module: list[str], queries: Path | None, **options: Any) -> None:
        topology = runtime().topology
        try:
            crossing = read_queries(queries) if queries else []
        except ConfigurationError as error:
            raise CommandError(str(error)) from None
        ties = module_ties(topology, chosen_modules(module), crossing)
        self.stdout.write("\n".join(readiness_lines(topology, ties)) or "no modules yet")
        remaining = sum(len(found) for found in ties.values())
        if remaining:
            raise CommandError(f"{remaining} tie(s) remain", returncode=1)
