"""Celery beat's part: the periodic sweep of every outbox, `modulith.sweep` every
MODULITH_RELAY_INTERVAL seconds. The project's Celery app asks for it in one line:

    app.config_from_object("django.conf:settings", namespace="CELERY")
    schedule_outbox_sweep(app)
"""

from typing import Any

from celery import Celery

from modulith.conf import modulith_settings

SWEEP = "sweep-outboxes"


def schedule_outbox_sweep(app: Celery) -> None:
    """Adds the sweep to `app`'s beat schedule once the app reads its configuration, by then
    from Django's settings (which this module, imported by them, must not read yet)."""

    def add_sweep(sender: Celery, **_: Any) -> None:
        sender.add_periodic_task(
            modulith_settings().relay_interval, sender.signature("modulith.sweep"), name=SWEEP
        )

    app.on_after_configure.connect(add_sweep, weak=False)
