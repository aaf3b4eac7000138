"""A relay thread inside the web process, for the single-container default without beat."""

import logging
import threading

from django.db import close_old_connections

from modulith.runtime import runtime

log = logging.getLogger(__name__)
_started = threading.Event()


def start_background_relay(interval: float) -> None:
    """Sweeps every running module's outbox every `interval` seconds (once per process)."""
    if _started.is_set():
        return
    _started.set()
    threading.Thread(target=_loop, args=(interval,), name="modulith-relay", daemon=True).start()


def _loop(interval: float) -> None:
    stop = threading.Event()
    while not stop.wait(interval):
        try:
            current = runtime()
            current.relay.sweep(m.database for m in current.topology.running_modules)
        except Exception:
            log.exception("background relay sweep failed; trying again in %ss", interval)
        finally:
            close_old_connections()
