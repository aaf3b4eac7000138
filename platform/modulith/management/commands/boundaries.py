from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from modulith import extras
from modulith.boundaries import crossing_imports, project_units, with_contract, written_baseline
from modulith.errors import ConfigurationError
from modulith.runtime import runtime


class Command(BaseCommand):
    help = (
        "Writes an import-linter independence contract over the project's modules and its own "
        "apps to pyproject.toml, with today's imports across them as its ignore_imports "
        "baseline (a line that stops matching fails lint-imports: the baseline only shrinks). "
        "Run again, it drops what was removed and refuses what is new; says how many remain."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--root", type=Path, default=None, help="the project's root (default: BASE_DIR)"
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="print the contract, write nothing"
        )

    def handle(self, *args: Any, root: Path | None, dry_run: bool, **options: Any) -> None:
        root = (root or Path(getattr(settings, "BASE_DIR", "."))).resolve()
        pyproject = root / "pyproject.toml"
        try:
            extras.require(extras.BOUNDARIES, needed_by="manage.py boundaries")
            baseline = crossing_imports(project_units(runtime().topology, root))
            source = pyproject.read_text(encoding="utf-8") if pyproject.is_file() else ""
            before = written_baseline(source)
            new = sorted(set(baseline.ignored) - before) if before is not None else []
            if new:
                raise CommandError(
                    f"{len(new)} new import(s) across modules and apps, which the baseline only "
                    f"loses: {'; '.join(new)}. Remove them (or, deliberately, add them to "
                    "ignore_imports in pyproject.toml by hand, where a review sees it)"
                )
            edited = with_contract(source, baseline)
        except ConfigurationError as error:
            raise CommandError(str(error)) from None
        if dry_run:
            self.stdout.write(edited)
        else:
            pyproject.write_text(edited, encoding="utf-8")
        gone = len(before - set(baseline.ignored)) if before is not None else 0
        pairs = ", ".join(f"{pair}: {n}" for pair, n in sorted(baseline.by_pair().items()))
        self.stdout.write(
            f"{len(baseline.ignored)} import(s) across {len(baseline.units)} modules and apps "
            f"remain in the baseline"
            + (f" ({pairs})" if pairs else "")
            + (f"; {gone} gone since it was written" if gone else "")
            + ("" if dry_run else f"; written to {pyproject}")
        )
