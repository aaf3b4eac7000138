"""The Celery app: asynchronous handlers and the periodic outbox sweep (beat)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("modulith")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
