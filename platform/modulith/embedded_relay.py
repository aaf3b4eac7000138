"""A relay thread inside the web process, for the single-container default without beat.

Which processes run it: those that serve requests, and no other. `ready()` runs in every
process that sets Django up (migrate, shell, check, a Celery worker, a consumer, the test
runner, runserver's file-watching parent), so it starts no thread: it connects
`start_with_first_request`, and the thread starts with the first request the process serves.
Only a server gets requests, whichever server it is (gunicorn, uWSGI, an ASGI server,
runserver's serving child), and a preforking server's workers each start theirs after the
fork, where a thread started before it would not survive. The common alternative, guessing
the process from `sys.argv` (runserver's `RUN_MAIN`, a list of commands to leave out), is
wrong for every server and command it does not list; schedulers such as django-apscheduler
advise against starting in `ready()` for that reason, and APM agents (elastic-apm) likewise
hook Django's request signals from `ready()` rather than start work there. A health check is
a request: behind a load balancer, or with the image's HEALTHCHECK, the relay starts soon
after the process does, traffic or not. Tests never start it unasked: the requests of Django's
test client, and any request once the test environment is set up (by Django's test runner or
pytest-django: that is when `mail.outbox` exists), a live server's too, start nothing; a test
that wants the relay calls `start_background_relay` itself.
"""

import logging
import threading
from collections.abc import Iterable
from typing import Any

from django.core import mail
from django.core.signals import request_started
from django.db import close_old_connections

from modulith.conf import modulith_settings
from modulith.modules import Module
from modulith.observability.logs import MODULE
from modulith.observability.metrics import DELIVERY_ERRORS
from modulith.outbox.relay import Relay
from modulith.runtime import runtime

log = logging.getLogger(__name__)
_lock = threading.Lock()
_started = False
FIRST_REQUEST = "modulith-embedded-relay"


def start_with_first_request() -> None:
    """Starts the relay thread when this process serves its first request."""
    request_started.connect(_first_request, dispatch_uid=FIRST_REQUEST)


def _first_request(sender: Any, **_: Any) -> None:
    if getattr(sender, "__module__", "").startswith("django.test") or hasattr(mail, "outbox"):
        return  # a test's request
    request_started.disconnect(dispatch_uid=FIRST_REQUEST)
    start_background_relay(modulith_settings().relay_interval)


def start_background_relay(interval: float) -> None:
    """Sweeps every running module's outbox every `interval` seconds (once per process)."""
    global _started
    with _lock:  # two first requests on two threads start one relay
        if _started:
            return
        _started = True
    threading.Thread(target=_loop, args=(interval,), name="modulith-relay", daemon=True).start()
    log.info("embedded relay started: sweeping the outboxes every %ss", interval)


def sweep_each(relay: Relay, modules: Iterable[Module], interval: float) -> None:
    """Sweeps each module's outbox until nothing is due (a database that modules share, and
    its outbox, once); a module whose sweep fails is logged and counted, and the others are
    swept all the same."""
    by_database: dict[str, Module] = {}
    for module in modules:
        by_database.setdefault(module.database, module)
    for module in by_database.values():
        try:
            relay.drain([module.database])
        except Exception:
            DELIVERY_ERRORS.labels(module.name, "sweep").inc()
            log.exception(
                "background relay sweep of %s failed; trying again in %ss",
                module.name,
                interval,
                extra={MODULE: module.name},
            )


def _loop(interval: float) -> None:
    stop = threading.Event()
    while not stop.wait(interval):
        try:
            current = runtime()
            sweep_each(current.relay, current.topology.running_modules, interval)
        except Exception:
            log.exception("background relay sweep failed; trying again in %ss", interval)
        finally:
            close_old_connections()
