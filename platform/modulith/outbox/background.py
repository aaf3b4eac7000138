"""A relay thread inside the web process, for the single-container default without beat."""

import logging
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.db import close_old_connections

from modulith.modules import Module
from modulith.observability.logs import MODULE
from modulith.runtime import runtime

if TYPE_CHECKING:  # the WSGI module imports this one before Django has loaded the models
    from modulith.outbox.relay import Relay

log = logging.getLogger(__name__)
_started = threading.Event()


def start_background_relay(interval: float) -> None:
    """Sweeps every running module's outbox every `interval` seconds (once per process)."""
    if _started.is_set():
        return
    _started.set()
    threading.Thread(target=_loop, args=(interval,), name="modulith-relay", daemon=True).start()


def sweep_each(relay: "Relay", modules: Iterable[Module], interval: float) -> None:
    """Sweeps each module's outbox until nothing is due; a module whose sweep fails is logged
    and counted, and the others are swept all the same."""
    from modulith.observability.metrics import DELIVERY_ERRORS  # imports the outbox models

    for module in modules:
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
