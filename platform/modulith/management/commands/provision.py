from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from modulith import extras
from modulith.runtime import runtime


class Command(BaseCommand):
    help = (
        "Creates, idempotently, every module queue, dead-letter queue and redrive policy, the "
        "event bus, one rule per subscribing module with its target, and the queue policies."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="say what would change")

    def handle(self, *args: Any, dry_run: bool, **options: Any) -> None:
        extras.require(extras.AWS, needed_by="manage.py provision")
        # The [aws] extra's modules, imported now that it is known to be installed.
        from botocore.exceptions import BotoCoreError, ClientError

        from modulith.aws.provision import Provisioner

        current = runtime()
        resources = current.aws.resources(current.topology)
        provisioner = Provisioner(current.aws.sqs, current.aws.events, dry_run=dry_run)
        try:
            changes = provisioner.apply(resources)
        except (BotoCoreError, ClientError) as error:
            raise CommandError(f"provisioning failed: {error}") from None
        verb = "would " if dry_run else ""
        for change in changes:
            self.stdout.write(f"{verb}{change}")
        if not changes:
            self.stdout.write(
                f"nothing to change: {len(resources.queues)} queues with their dead-letter "
                f"queues, bus {resources.bus} and {len(resources.rules)} rules are up to date"
            )
