from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from modulith.modules import map as module_map
from modulith.runtime import runtime


class Command(BaseCommand):
    help = (
        "Prints the module map: every module (also those not running here), the events it "
        "publishes and who handles them, the query ports it provides and uses. `--format "
        "markdown` prints the project's docs/modules.md."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--format", choices=list(module_map.FORMATS), default="text")

    def handle(self, *args: Any, format: str, **options: Any) -> None:
        render = module_map.FORMATS[format]
        self.stdout.write(render(runtime().topology), ending="")
