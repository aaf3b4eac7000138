from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from modulith.runtime import runtime
from modulith.tooling.deployment import FORMATS, DeploymentOptions, deployment_files

DEFAULTS = DeploymentOptions()


class Command(BaseCommand):
    help = (
        "Writes the deployment files of the split topology from the module manifests: "
        "compose.yaml with the front door's nginx.conf; CloudFormation for ECS/Fargate (the "
        "shared stack ecs/shared.json and a stack per module service, ecs/<module>.json); "
        "each module's Kubernetes manifests (k8s/<module>/); a CloudFormation stack of each "
        "module on AWS Lambda (lambda/<module>.json); and each module's release script for "
        "ECS and Lambda (release-<module>.sh). --check only compares."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--format", choices=[*FORMATS, "all"], default="all")
        parser.add_argument("--out", default="deploy", help="directory (default: deploy)")
        parser.add_argument(
            "--check", action="store_true", help="fail if the files there differ, write nothing"
        )
        parser.add_argument("--image", default=DEFAULTS.image, help="compose: the app's image")
        parser.add_argument(
            "--transport", choices=["sqs", "sns", "eventbridge"], default=DEFAULTS.transport
        )
        parser.add_argument("--queue-prefix", default=DEFAULTS.queue_prefix)
        parser.add_argument("--event-bus", default=DEFAULTS.event_bus)
        parser.add_argument("--cpu", type=int, default=DEFAULTS.cpu, help="Fargate CPU units")
        parser.add_argument(
            "--memory", type=int, default=DEFAULTS.memory, help="Fargate and Lambda MiB"
        )

    def handle(self, *args: Any, format: str, out: str, check: bool, **options: Any) -> None:
        chosen = DeploymentOptions(
            image=options["image"],
            transport=options["transport"],
            queue_prefix=options["queue_prefix"],
            event_bus=options["event_bus"],
            cpu=options["cpu"],
            memory=options["memory"],
        )
        formats = FORMATS if format == "all" else (format,)
        files = deployment_files(runtime().topology, chosen, formats)
        directory = Path(out)
        if check:
            self._check(directory, files)
            return
        for name, text in files.items():
            path = directory / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            if path.suffix == ".sh":
                path.chmod(0o755)
            self.stdout.write(f"wrote {path}")

    def _check(self, directory: Path, files: dict[str, str]) -> None:
        stale = [
            name
            for name, text in files.items()
            if not (directory / name).exists() or (directory / name).read_text() != text
        ]
        if stale:
            raise CommandError(
                f"out of date in {directory}: {', '.join(stale)}; regenerate with "
                f"`python manage.py deployment --out {directory}`"
            )
        self.stdout.write(f"{len(files)} deployment files in {directory} are up to date")
