"""The Celery app: asynchronous handlers and the periodic outbox sweep (beat)."""

import os

from celery import Celery

from modulith.outbox.beat import schedule_outbox_sweep

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("modulith")
app.config_from_object("django.conf:settings", namespace="CELERY")
schedule_outbox_sweep(app)
app.autodiscover_tasks()
