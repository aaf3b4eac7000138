"""Whether a step of a rolling flip may start: what the steps before it left in flight has
settled, so that the processes the step stops or changes strand nothing. Read from the
outboxes of the modules running in this process and from the module queues:

- outboxes sent, claims settled: no delivery has been due for longer than a grace without
  being sent: none held by the claim of a process that has stopped (it lapses after
  MODULITH_CLAIM_SECONDS, then any relay takes the delivery), none that no relay sweeps;
- queues being drained: no module queue holds messages waiting while none is in flight (no
  consumer takes them); once a merge back is done, every queue and dead-letter queue empty;
- before an extraction's first step: the queue transport's resources provisioned.

A release script runs the check before each step, with the environment the monolith runs at
that moment, until it passes (`manage.py extract <module> [--back] --ready <step>`).
"""

import time
from dataclasses import replace
from datetime import timedelta

from django.db.models import QuerySet
from django.db.models.functions import Now
from django.utils import timezone

from modulith.aws.context import AwsContext, aws_context
from modulith.aws.drain import queue_depth
from modulith.conf import extras
from modulith.database.store.models import Delivery, DeliveryStatus
from modulith.modules import Module
from modulith.modules.errors import ConfigurationError
from modulith.runtime import Runtime
from modulith.runtime.transports import transport_kind
from modulith.tooling.rolling.steps import DONE, DRAIN, RollingPlan

# How long a queue's waiting messages may go without a consumer taking one.
WATCH_SECONDS = 3.0


def unsettled(
    current: Runtime, plan: RollingPlan, step: int | str, *, grace: timedelta
) -> list[str]:
    """What keeps `step` of `plan` from starting now, one phrase each; empty: it may start."""
    extras.require(extras.AWS, needed_by="the readiness check of a rolling flip")
    if not aws_context(current).region:
        raise ConfigurationError(
            "the readiness check reads the queues: set AWS_DEFAULT_REGION (and the "
            "MODULITH_QUEUE_PREFIX of the queue transport)"
        )
    if not plan.back and step == 1:  # nothing goes through the queues yet
        return _not_provisioned(current, plan.transport) + _outboxes(current, grace)
    ended = plan.back and step == DONE
    return _outboxes(current, grace) + _queues(current, plan, empty=ended)


def _not_provisioned(current: Runtime, transport: str) -> list[str]:
    # The [aws] extra's module (botocore), imported now that it is known to be installed.
    from modulith.aws.provision import Provisioner

    aws = replace(aws_context(current), fan_out=transport_kind(transport).fans_out)
    changes = Provisioner(aws, dry_run=True).apply(aws.resources(current.topology))
    if not changes:
        return []
    missing = ", ".join(str(change) for change in changes[:3])
    more = f" and {len(changes) - 3} more" if len(changes) > 3 else ""
    return [
        f"the {transport} resources are not provisioned ({missing}{more}): run "
        f"MODULITH_TRANSPORT={transport} manage.py provision"
    ]


def _outboxes(current: Runtime, grace: timedelta) -> list[str]:
    return [
        problem
        for module in current.topology.running_modules
        if (problem := _outbox(module, grace))
    ]


def _outbox(module: Module, grace: timedelta) -> str:
    overdue: QuerySet[Delivery] = Delivery.objects.using(module.database).filter(
        status=DeliveryStatus.PENDING, next_attempt_at__lt=Now() - grace
    )
    count = overdue.count()
    oldest = overdue.order_by("next_attempt_at").first()
    if not count or oldest is None:
        return ""
    late = (timezone.now() - oldest.next_attempt_at).total_seconds()
    text = (
        f"{module.name}'s outbox has {count} deliveries due for more than "
        f"{grace.total_seconds():.0f} s and not sent (the oldest, to {oldest.route}, due "
        f"{late:.0f} s ago"
    )
    if oldest.claimed_until and oldest.claimed_until > timezone.now():
        lapses = (oldest.claimed_until - timezone.now()).total_seconds()
        text += f", held by a claim that lapses in {lapses:.0f} s: a process that stopped"
    elif oldest.last_error:
        text += f", last error: {oldest.last_error[:200]}"
    else:
        text += f": is a relay sweeping {module.name}'s outbox?"
    return text + ")"


def _queues(current: Runtime, plan: RollingPlan, *, empty: bool) -> list[str]:
    problems = []
    aws = aws_context(current)
    for module in (m for m in current.topology.modules if m.handles):
        if empty:
            problems += _left_over(aws, module, plan.transport)
        elif not _being_drained(aws, module):
            problems.append(
                f"{aws.names.queue(module.name)} has messages waiting and none in flight for "
                f"{WATCH_SECONDS:.0f} s: no consumer reads it (start {module.name}'s, or run "
                f"`{DRAIN}`)"
            )
    return problems


def _being_drained(aws: AwsContext, module: Module) -> bool:
    """Whether the queue is empty of waiting messages or a consumer takes them: a long-polling
    consumer receives a message within moments, so a queue whose messages wait with none in
    flight for a few seconds running has none."""
    url = aws.queues.url(module.name)
    deadline = time.monotonic() + WATCH_SECONDS
    while True:
        depth = queue_depth(aws.sqs, url)
        if not depth.waiting or depth.in_flight:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.2)


def _left_over(aws: AwsContext, module: Module, transport: str) -> list[str]:
    """What is left in the module's queue, and dead letters in its DLQ (replayable only
    through the queue), once nothing reads the queues any more."""
    problems = []
    depth = queue_depth(aws.sqs, aws.queues.url(module.name))
    if not depth.empty:
        problems.append(
            f"{aws.names.queue(module.name)} holds {depth}: once no process of the {transport} "
            f"transport runs any more, run `{DRAIN}` with the monolith's environment"
        )
    dead = queue_depth(aws.sqs, aws.queues.dead_letter_url(module.name))
    if not dead.empty:
        problems.append(
            f"{aws.names.dead_letter_queue(module.name)} holds {dead.messages} dead letters: "
            f"replay them (MODULITH_TRANSPORT={transport} manage.py deadletters replay "
            f"--module {module.name} --all), then run `{DRAIN}` again"
        )
    return problems
