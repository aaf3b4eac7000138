from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from modulith.errors import ConfigurationError
from modulith.extraction import ExtractionPlan, extraction_plan
from modulith.readiness import shared_database_refusal
from modulith.runtime import runtime


class Command(BaseCommand):
    help = (
        "Prints what extracting a module into its own service changes: the events and query "
        "calls that start crossing the network, the tables and database that move, and the "
        "environment of the new service and of the rest."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("module")
        parser.add_argument("--format", choices=["text", "env"], default="text")
        parser.add_argument(
            "--transport", choices=["sqs", "sns", "eventbridge"], default="eventbridge"
        )
        parser.add_argument("--service-url", help="where the new service will answer")
        parser.add_argument("--rest-url", help="where the rest of the monolith will answer")

    def handle(
        self,
        *args: Any,
        module: str,
        format: str,
        transport: str,
        service_url: str | None,
        rest_url: str | None,
        **options: Any,
    ) -> None:
        try:
            _refuse_shared_database(module)
            plan = extraction_plan(
                runtime().topology,
                module,
                transport=transport,
                service_url=service_url or f"http://{module}:8000",
                rest_url=rest_url or "http://monolith:8000",
            )
        except ConfigurationError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(_env(plan) if format == "env" else _text(plan))


def _refuse_shared_database(module: str) -> None:
    """A module in the shared database cannot leave the process without its data."""
    refusal = shared_database_refusal(runtime().topology, module)
    if refusal:
        raise CommandError(refusal)


def _env(plan: ExtractionPlan) -> str:
    service = "\n".join(f"{key}={value}" for key, value in plan.service_env.items())
    rest = "\n".join(f"{key}={value}" for key, value in plan.rest_env.items())
    return f"# the {plan.module} service\n{service}\n\n# the rest\n{rest}"


def _text(plan: ExtractionPlan) -> str:
    def section(title: str, lines: list[str]) -> str:
        body = "\n".join(f"  {line}" for line in lines) or "  (none)"
        return f"{title}\n{body}"

    return "\n\n".join(
        [
            f"Extracting {plan.module} into its own service",
            section(
                "Events it publishes that start crossing the network:",
                [str(c) for c in plan.events_out],
            ),
            section(
                "Events it handles that start crossing the network:",
                [str(c) for c in plan.events_in],
            ),
            section(
                "Query calls it makes that become HTTP calls:", [str(c) for c in plan.calls_out]
            ),
            section("Query calls to it that become HTTP calls:", [str(c) for c in plan.calls_in]),
            section(f"Tables that move with its database ({plan.database_variable}):", plan.tables),
            section(
                f"Environment of the {plan.module} service:",
                [f"{k}={v}" for k, v in plan.service_env.items()],
            ),
            section("Environment of the rest:", [f"{k}={v}" for k, v in plan.rest_env.items()]),
        ]
    )
