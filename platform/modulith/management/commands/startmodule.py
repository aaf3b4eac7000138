from pathlib import Path
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from modulith import scaffold
from modulith.conf import modulith_settings


class Command(BaseCommand):
    help = (
        "Creates a module: manifest, model, services, queries, router, handlers, migration and "
        "tests, a contracts file with the event it publishes and its query port; adds it to "
        "MODULITH_MANIFESTS and to the import-linter independence contract, and regenerates "
        "the stored event schemas and docs/modules.md."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="the module's name, e.g. shipping")
        parser.add_argument(
            "--model",
            help="the class name of its model (default: the name in the singular, e.g. Payment)",
        )
        parser.add_argument(
            "--handles",
            nargs="+",
            action="extend",
            default=[],
            metavar="EVENT",
            help="events it subscribes to, e.g. OrderConfirmed: a handler stub for each",
        )
        parser.add_argument(
            "--root", type=Path, help="the project's root (default: BASE_DIR)", default=None
        )

    def handle(
        self,
        *args: Any,
        name: str,
        model: str | None,
        handles: list[str],
        root: Path | None,
        **options: Any,
    ) -> None:
        root = (root or Path(settings.BASE_DIR)).resolve()
        try:
            request = scaffold.plan(
                name,
                model=model,
                handles=handles,
                topology=modulith_settings().topology,
                taken=[app.label for app in apps.get_app_configs()],
            )
            outcome = scaffold.create(request, root=root, settings_module=settings.SETTINGS_MODULE)
        except scaffold.ScaffoldError as error:
            raise CommandError(str(error)) from None
        lines = [f"Created module {name}:"]
        lines += [f"  {path}" for path in sorted(outcome.created)]
        lines += ["Edited:", *(f"  {path}" for path in outcome.edited)]
        lines += [f"Note: {note}" for note in outcome.notes]
        lines += [
            "Next: python manage.py migrate_modules, then "
            f"pytest tests/modules/{name} and lint-imports.",
        ]
        self.stdout.write("\n".join(lines))
