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
        "MODULITH_MANIFESTS and to the import-linter independence contract (if the project "
        "has one), and regenerates the stored event schemas and docs/modules.md. Named after "
        "one of the project's apps, makes that app a module in place: a manifest beside it, "
        "its label, models and tables kept, in the database it shares."
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
        parser.add_argument(
            "--database",
            default="",
            help=(
                "the alias of the database it lives in (default: its own for a new module, "
                "`default` for one of the project's apps, where its tables are)"
            ),
        )

    def handle(
        self,
        *args: Any,
        name: str,
        model: str | None,
        handles: list[str],
        root: Path | None,
        database: str,
        **options: Any,
    ) -> None:
        root = (root or Path(settings.BASE_DIR)).resolve()
        topology = modulith_settings().topology
        existing = next((a for a in apps.get_app_configs() if a.label == name), None)
        try:
            if existing is not None and not model and not handles:
                outcome = scaffold.adopt_app(
                    existing,
                    root=root,
                    settings_module=settings.SETTINGS_MODULE,
                    database=database or "default",
                    topology=topology,
                )
                title, following = (
                    f"Made {name} a module, in place:",
                    f"Next: python manage.py check, and manage.py readiness {name}.",
                )
            else:
                package, tests = scaffold.new_module_places(root, name)
                request = scaffold.plan(
                    name,
                    model=model,
                    handles=handles,
                    topology=topology,
                    taken=[app.label for app in apps.get_app_configs()],
                    package=package,
                    tests=tests,
                    database=database,
                )
                outcome = scaffold.create(
                    request, root=root, settings_module=settings.SETTINGS_MODULE
                )
                title, following = (
                    f"Created module {name}:",
                    f"Next: python manage.py migrate_modules, then pytest {tests}.",
                )
        except scaffold.ScaffoldError as error:
            raise CommandError(str(error)) from None
        lines = [title, *(f"  {path}" for path in sorted(outcome.created))]
        lines += ["Edited:", *(f"  {path}" for path in outcome.edited)]
        lines += [f"Note: {note}" for note in outcome.notes]
        lines += [following]
        self.stdout.write("\n".join(lines))
