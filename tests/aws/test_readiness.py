"""`manage.py extract <module> [--back] --ready STEP`: a step of a rolling flip may start once
what the steps before it left in flight has settled (the outboxes sent, no stopped process's
claim outstanding, the queues empty or being drained; the resources there before the first
step, and every queue and dead-letter queue empty once a merge back is done). Otherwise it
exits 1 with one line saying what has not settled, for a release script to wait on."""

import re
from datetime import timedelta
from io import StringIO
from typing import Any
from uuid import uuid4

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from modulith.aws.context import aws_context
from modulith.database.store.models import Delivery, DeliveryStatus
from modulith.runtime import runtime
from tests.aws.emulator import AwsContext
from tests.aws.test_consumer import captured, send, use_queues, wire_body
from tests.outbox_rows import stored_events
from tests.processes import manage

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def ready(*args: str) -> str:
    """The check's line: what `extract --ready` prints when the step may start, or the
    message it exits 1 with."""
    out = StringIO()
    try:
        call_command("extract", "payments", "--transport", "sqs", *args, stdout=out)
    except CommandError as error:
        return str(error)
    return out.getvalue().strip()


def overdue(seconds: float, **claim: Any) -> None:
    """A delivery of payments' outbox due `seconds` ago and not sent."""
    stored_events("payments", "PaymentCaptured", "orders", captured(uuid4()))
    due = timezone.now() - timedelta(seconds=seconds)
    Delivery.objects.using("payments").update(next_attempt_at=due, **claim)


def hide_one(module: str, *, dead: bool = False) -> Any:
    """Receives the queue's one message and keeps it in flight for a minute; its receipt."""
    current = runtime()
    queues = aws_context(current).queues
    url = queues.dead_letter_url(module) if dead else queues.url(module)
    [message] = aws_context(current).sqs.receive_message(
        QueueUrl=url, VisibilityTimeout=60, WaitTimeSeconds=2
    )["Messages"]
    return url, message["ReceiptHandle"]


def test_the_first_step_of_an_extraction_waits_for_the_queue_transport_to_be_provisioned(
    aws: AwsContext, settings: Any
) -> None:
    line = ready("--ready", "1")

    assert line.startswith(
        f"not ready: step 1 of extracting payments: the sqs resources are not provisioned "
        f"(create dead-letter queue {aws.prefix}-orders-dlq, "
    )
    assert line.endswith("more): run MODULITH_TRANSPORT=sqs manage.py provision")

    use_queues(settings)
    assert ready("--ready", "1") == "ready for step 1 of extracting payments"


def test_a_delivery_due_long_ago_and_not_sent_keeps_a_step_from_starting(
    aws: AwsContext, settings: Any
) -> None:
    use_queues(settings)
    overdue(60)

    line = ready("--ready", "2")

    # Due 60 s ago when it was stored: a second or two more by the time the command reads it.
    assert re.fullmatch(
        r"not ready: step 2 of extracting payments: payments's outbox has 1 deliveries due for "
        r"more than 19 s and not sent \(the oldest, to orders, due 6[0-5] s ago: is a relay "
        r"sweeping payments's outbox\?\).*",
        line,
    ), line
    Delivery.objects.using("payments").update(status=DeliveryStatus.DELIVERED)
    assert ready("--ready", "2") == "ready for step 2 of extracting payments"


def test_a_claim_of_a_stopped_process_keeps_a_step_from_starting_until_it_lapses(
    aws: AwsContext, settings: Any
) -> None:
    use_queues(settings)
    overdue(
        60, claimed_by="a-stopped-process", claimed_until=timezone.now() + timedelta(seconds=30)
    )

    line = ready("--ready", "3", "--grace", "5")

    assert "payments's outbox has 1 deliveries due for more than 5 s and not sent" in line
    # In 30 s from when the claim was stamped, less what the command took to start.
    lapses = re.search(r"held by a claim that lapses in (\d+) s: a process that stopped\)", line)
    assert lapses is not None, line
    assert 20 <= int(lapses[1]) <= 30, line
    # A delivery due for less than the grace is being sent: no reason to wait.
    Delivery.objects.using("payments").update(next_attempt_at=timezone.now())
    assert ready("--ready", "3", "--grace", "5") == "ready for step 3 of extracting payments"


def test_messages_that_no_consumer_takes_keep_a_step_from_starting(
    aws: AwsContext, settings: Any
) -> None:
    use_queues(settings)
    send(wire_body("PaymentCaptured", captured(uuid4())))

    line = ready("--back", "--ready", "2")

    assert line == (
        f"not ready: step 2 of merging payments back: {aws.prefix}-orders has messages waiting "
        "and none in flight for 3 s: no consumer reads it (start orders's, or run "
        "`manage.py consume --drain`)"
    )
    hide_one("orders")  # a consumer holds it: the queue is being drained
    assert ready("--back", "--ready", "2") == "ready for step 2 of merging payments back"


def test_a_merge_back_is_done_once_every_queue_and_dead_letter_queue_is_empty(
    aws: AwsContext, settings: Any
) -> None:
    use_queues(settings)
    send(wire_body("PaymentCaptured", captured(uuid4())))
    url, receipt = hide_one("orders")

    in_flight = ready("--back", "--ready", "done")
    current = runtime()
    aws_context(current).sqs.delete_message(QueueUrl=url, ReceiptHandle=receipt)
    dead_letter = aws_context(current).queues.dead_letter_url("orders")
    aws_context(current).sqs.send_message(QueueUrl=dead_letter, MessageBody="{}")
    dead = ready("--back", "--ready", "done")
    aws_context(current).sqs.delete_message(
        QueueUrl=dead_letter, ReceiptHandle=hide_one("orders", dead=True)[1]
    )

    assert in_flight == (
        f"not ready: merging payments back is done: {aws.prefix}-orders holds 0 waiting, 1 in "
        "flight, 0 delayed: once no process of the sqs transport runs any more, run "
        "`manage.py consume --drain` with the monolith's environment"
    )
    assert dead == (
        f"not ready: merging payments back is done: {aws.prefix}-orders-dlq holds 1 dead "
        "letters: replay them (MODULITH_TRANSPORT=sqs manage.py deadletters replay --module "
        "orders --all), then run `manage.py consume --drain` again"
    )
    assert ready("--back", "--ready", "done") == "ready: merging payments back is done"


def test_a_release_script_gets_exit_1_and_one_line_until_the_step_may_start(
    aws: AwsContext, settings: Any
) -> None:
    use_queues(settings)
    overdue(60)
    check = ("extract", "payments", "--transport", "sqs", "--ready", "2")
    env = {**aws.env, "MODULITH_TRANSPORT": "inprocess", "DJANGO_DEBUG": "1"}

    waiting = manage(*check, timeout=60, **env)
    Delivery.objects.using("payments").update(status=DeliveryStatus.DELIVERED)
    going = manage(*check, timeout=60, **env)

    assert waiting.returncode == 1
    assert waiting.stdout == ""
    [line] = waiting.stderr.strip().splitlines()
    assert line.startswith("CommandError: not ready: step 2 of extracting payments: payments's")
    assert (going.returncode, going.stdout) == (0, "ready for step 2 of extracting payments\n")
