import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from modulith.runtime import runtime
from modulith.tooling.schemas import (
    Problem,
    Schema,
    chain_problems,
    current_schemas,
    problems,
)


class Command(BaseCommand):
    help = (
        "Compares the published events' schemas with the stored ones (check), or stores them "
        "(write). A breaking change needs a new major schema version and an upcaster from the "
        "stored one."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["check", "write"])
        parser.add_argument(
            "--dir",
            dest="directory",
            type=Path,
            help="where the stored schemas are, one <EventName>.json each "
            "(default: contracts/schemas/ under BASE_DIR)",
        )

    def handle(self, *args: Any, action: str, directory: Path | None, **options: Any) -> None:
        directory = directory or Path(settings.BASE_DIR) / "contracts" / "schemas"
        topology = runtime().topology
        current = current_schemas(topology)
        found = chain_problems(topology) + problems(_load(directory), current)
        if action == "check":
            if found:
                raise CommandError(_report(found, directory))
            self.stdout.write(f"contracts: {len(current)} event schemas compatible")
            return
        breaking = [problem for problem in found if problem.breaking]
        if breaking:
            raise CommandError("not written: " + _report(breaking, directory))
        directory.mkdir(parents=True, exist_ok=True)
        for name, schema in current.items():
            (directory / f"{name}.json").write_text(
                json.dumps(schema, indent=2, sort_keys=True) + "\n", encoding="utf-8"
            )
        self.stdout.write(f"contracts: wrote {len(current)} event schemas to {directory}")


def _load(directory: Path) -> dict[str, Schema]:
    stored: dict[str, Schema] = {}
    for path in sorted(directory.glob("*.json")):
        try:
            stored[path.stem] = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise CommandError(f"{path} is not valid JSON: {error}") from None
    return stored


def _report(found: list[Problem], directory: Path) -> str:
    lines = "\n".join(str(problem) for problem in found)
    return f"{len(found)} problem(s) against the event schemas stored in {directory}\n{lines}"
