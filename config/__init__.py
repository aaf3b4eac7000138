"""The deployable: settings from the environment, the front door, the Celery app.

The composition root: the only package that knows every module.
"""

from config.celery import app as celery_app

__all__ = ["celery_app"]
