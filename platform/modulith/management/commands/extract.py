from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from modulith.conf import modulith_settings
from modulith.errors import ConfigurationError
from modulith.extraction import ExtractionPlan, extraction_plan
from modulith.readiness import shared_database_refusal
from modulith.rolling.readiness import unsettled
from modulith.rolling.steps import DONE, MONOLITH, Deployment, RollingPlan, rolling_plan
from modulith.runtime import runtime

PROVISION = "MODULITH_TRANSPORT={transport} manage.py provision"


class Command(BaseCommand):
    help = (
        "Prints what extracting a module into its own service changes (the events and query "
        "calls that start crossing the network, the tables and database that move) and the "
        "rolling deployments that extract it while it keeps serving, each with both sides' "
        "environment; --back prints those that merge it back. --ready STEP checks that a step "
        "may start: exit 0, or 1 with one line saying what has not settled yet."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("module")
        parser.add_argument("--format", choices=["text", "env"], default="text")
        parser.add_argument(
            "--transport", choices=["sqs", "sns", "eventbridge"], default="eventbridge"
        )
        parser.add_argument("--service-url", help="where the new service will answer")
        parser.add_argument("--rest-url", help="where the rest of the monolith will answer")
        parser.add_argument(
            "--back", action="store_true", help="merging the module back into the monolith"
        )
        parser.add_argument(
            "--ready",
            metavar="STEP",
            choices=["1", "2", "3", DONE],
            help=f"check that step 1, 2 or 3 may start (or that the flip is {DONE})",
        )
        parser.add_argument(
            "--grace",
            type=float,
            help="with --ready: seconds a delivery may be due before it counts as not sent "
            "(default: MODULITH_CLAIM_SECONDS and two MODULITH_RELAY_INTERVALs, the time a "
            "stopped process's claim takes to lapse and a relay to take the delivery over)",
        )

    def handle(
        self,
        *args: Any,
        module: str,
        format: str,
        transport: str,
        service_url: str | None,
        rest_url: str | None,
        back: bool,
        ready: str | None,
        grace: float | None,
        **options: Any,
    ) -> None:
        topology = runtime().topology
        urls = {
            "service_url": service_url or f"http://{module}:8000",
            "monolith_url": rest_url or "http://monolith:8000",
        }
        try:
            _refuse_shared_database(module)
            steps = rolling_plan(topology, module, transport=transport, back=back, **urls)
            plan = extraction_plan(
                topology,
                module,
                transport=transport,
                service_url=urls["service_url"],
                rest_url=urls["monolith_url"],
            )
        except ConfigurationError as error:
            raise CommandError(str(error)) from None
        if ready:
            self._check(steps, int(ready) if ready.isdigit() else ready, grace)
        elif format == "env":
            self.stdout.write(_env(plan))
        else:
            self.stdout.write(_steps(steps) if back else f"{_text(plan)}\n\n{_steps(steps)}")

    def _check(self, plan: RollingPlan, step: int | str, grace: float | None) -> None:
        what = f"{plan.direction} is {DONE}" if step == DONE else f"step {step} of {plan.direction}"
        if grace is None:
            settings = modulith_settings()
            grace = settings.claim_seconds + 2 * settings.relay_interval
        try:
            problems = unsettled(runtime(), plan, step, grace=timedelta(seconds=grace))
        except ConfigurationError as error:
            raise CommandError(str(error)) from None
        except Exception as error:  # the queues or a database cannot be read: not settled
            raise CommandError(f"cannot tell whether {what} may start: {error}") from None
        if problems:
            raise CommandError(f"not ready: {what}: {'; '.join(problems)}")
        self.stdout.write(f"ready: {what}" if step == DONE else f"ready for {what}")


def _refuse_shared_database(module: str) -> None:
    """A module in the shared database cannot leave the process without its data."""
    refusal = shared_database_refusal(runtime().topology, module)
    if refusal:
        raise CommandError(refusal)


def _env(plan: ExtractionPlan) -> str:
    service = "\n".join(f"{key}={value}" for key, value in plan.service_env.items())
    rest = "\n".join(f"{key}={value}" for key, value in plan.rest_env.items())
    return f"# the {plan.module} service\n{service}\n\n# the rest\n{rest}"


def _section(title: str, lines: list[str]) -> str:
    body = "\n".join(f"  {line}" for line in lines) or "  (none)"
    return f"{title}\n{body}"


def _text(plan: ExtractionPlan) -> str:
    return "\n\n".join(
        [
            f"Extracting {plan.module} into its own service",
            _section(
                "Events it publishes that start crossing the network:",
                [str(c) for c in plan.events_out],
            ),
            _section(
                "Events it handles that start crossing the network:",
                [str(c) for c in plan.events_in],
            ),
            _section(
                "Query calls it makes that become HTTP calls:", [str(c) for c in plan.calls_out]
            ),
            _section("Query calls to it that become HTTP calls:", [str(c) for c in plan.calls_in]),
            _section(
                f"Tables that move with its database ({plan.database_variable}):", plan.tables
            ),
            _section(
                f"Environment of the {plan.module} service:",
                [f"{k}={v}" for k, v in plan.service_env.items()],
            ),
            _section("Environment of the rest:", [f"{k}={v}" for k, v in plan.rest_env.items()]),
        ]
    )


def _steps(plan: RollingPlan) -> str:
    module, transport = plan.module, plan.transport
    service = f"the {module} service"
    if plan.back:
        title = f"Merging {module} back into the monolith, while both keep serving"
        first = "Before step 1: nothing; the split runs as the extraction left it."
    else:
        title = f"Extracting {module} while it keeps serving: three rolling deployments"
        first = (
            f"Before step 1: {PROVISION.format(transport=transport)} (its queues, dead-letter "
            "queues, rules and topics). Every process of both sides, in every step, has the "
            "same AWS_DEFAULT_REGION, MODULITH_QUEUE_PREFIX and MODULITH_EVENT_BUS; the "
            f"monolith and {service} use the same {module} database."
        )
    intro = (
        f"{title}. Each step deploys one side: its new tasks start beside the old ones, which "
        "stop (SIGTERM) once the new are healthy. Before each step, run its check with the "
        "monolith's environment of that moment: it exits 0 when the step is safe, 1 with one "
        "line saying what has not settled yet (run it again until it passes). A step stopped "
        "half-way is safe: both environments of its side run well together."
    )
    blocks = [intro, first]
    for step in plan.steps:
        lines = [f"check first: {plan.ready_command(step.number)}"]
        lines += _side("the monolith", step.monolith, deploy=step.rolls == MONOLITH)
        lines += _side(service, step.service, deploy=step.rolls == module)
        where = service if step.api_on_service else "the monolith"
        lines.append(f"front door: /api/{module} to {where}")
        lines += [f"then, once the old tasks have all stopped: {c}" for c in step.then]
        lines.append(f"while stopped here: {step.state}")
        lines.append(f"to roll back: {step.rollback}")
        blocks.append(_section(f"Step {step.number}: {step.title}", lines))
    blocks.append(
        f"Done: {plan.ready_command(DONE)} passes (with the monolith's environment, and with "
        f"{service}'s for its outbox while it runs)."
    )
    return "\n\n".join(blocks)


def _side(name: str, deployment: Deployment, *, deploy: bool) -> list[str]:
    if not deployment.running:
        return [f"{name}: {'stop it' if deploy else 'not running'}"]
    action = "deploy" if deploy else "unchanged"
    lines = [f"{name}: {action}, roles {', '.join(deployment.roles)}, environment:"]
    return lines + [f"    {key}={value}" for key, value in deployment.env.items()]
