import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from modulith.aws.cloudformation import template
from modulith.aws.context import aws_context
from modulith.runtime import runtime


class Command(BaseCommand):
    help = "Prints the AWS resources of the topology, as JSON or as a CloudFormation template."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--format", choices=["json", "cloudformation"], default="json")

    def handle(self, *args: Any, format: str, **options: Any) -> None:
        current = runtime()
        resources = aws_context(current).resources(current.topology)
        document = resources.as_dict() if format == "json" else template(resources)
        self.stdout.write(json.dumps(document, indent=2))
