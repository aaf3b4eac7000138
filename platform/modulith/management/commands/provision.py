from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from modulith.aws.context import aws_context
from modulith.conf import extras
from modulith.runtime import runtime


class Command(BaseCommand):
    help = (
        "Creates, idempotently, every module queue, dead-letter queue and redrive policy, the "
        "event bus, one rule per subscribing module with its target, the queue policies and, "
        "with MODULITH_TRANSPORT=sns, a topic per publishing module and the queues' "
        "subscriptions to them (filter policy, raw message delivery), and the claim-check "
        "bucket of large events (encrypted, private, TLS only, expiring its objects after the "
        "redelivery window)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="say what would change")

    def handle(self, *args: Any, dry_run: bool, **options: Any) -> None:
        extras.require(extras.AWS, needed_by="manage.py provision")
        # The [aws] extra's modules, imported now that it is known to be installed.
        from botocore.exceptions import BotoCoreError, ClientError

        from modulith.aws.provision import Provisioner

        current = runtime()
        aws = aws_context(current)
        resources = aws.resources(current.topology)
        provisioner = Provisioner(aws, dry_run=dry_run)
        try:
            changes = provisioner.apply(resources)
        except (BotoCoreError, ClientError) as error:
            raise CommandError(f"provisioning failed: {error}") from None
        verb = "would " if dry_run else ""
        for change in changes:
            self.stdout.write(f"{verb}{change}")
        if not changes:
            topics = (
                f", {len(resources.topics)} topics and {len(resources.subscriptions)} subscriptions"
                if resources.topics
                else ""
            )
            self.stdout.write(
                f"nothing to change: {len(resources.queues)} queues with their dead-letter "
                f"queues, bus {resources.bus} and {len(resources.rules)} rules{topics}, and "
                "the claim-check bucket are up to date"
            )
