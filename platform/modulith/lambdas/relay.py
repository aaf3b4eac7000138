"""The relay function: a scheduled sweep (an EventBridge schedule) of the running modules'
outboxes. On Lambda, deliveries after commit run inline before the response; this catches
the rest (a delivery that failed and is due again, a function cut off after its commit) and
purges what is past its retention, as `manage.py relay --once` does. Each run reports the
outbox gauges (pending, the oldest's age, dead letters) with its metrics, once a minute."""

import logging
import threading
from typing import Any

from modulith.lambdas.start import LambdaContext, cold_start, invocation

cold_start()  # Django first: the runtime's imports load models

from modulith.observability import emf  # noqa: E402
from modulith.runtime import runtime  # noqa: E402

log = logging.getLogger(__name__)


def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Sweeps until nothing is due, or until a claim's time before the function's timeout;
    the next schedule goes on."""
    current = runtime()
    aliases = current.topology.running_databases
    stop = threading.Event()
    # After the first, no sweep starts with less than a claim's time left: one cut off by the
    # function's timeout would leave its deliveries claimed, and waiting, until they lapse.
    claim = current.relay.claims.lease.total_seconds()
    budget = context.get_remaining_time_in_millis() / 1000 - claim
    deadline = threading.Timer(max(0.0, budget), stop.set)
    deadline.start()
    try:
        with invocation(context):
            report = current.relay.drain(aliases, stop)
            if emf.enabled():
                emf.record_outbox()
    finally:
        deadline.cancel()
    log.info("relay: %s%s", report, "; more is due" if report.more_due else "")
    return {
        "delivered": report.delivered,
        "retried": report.retried,
        "dead": report.dead,
        "waiting": report.waiting,
        "purged": report.purged,
        "moreDue": report.more_due,
    }
