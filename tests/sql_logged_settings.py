"""The project's settings with every SQL statement logged (Django logs them with DEBUG on): a
process started on them (`DJANGO_SETTINGS_MODULE=tests.sql_logged_settings`) says what it
queries, and a test can wait for a statement it must have made."""

from config.settings import *  # noqa: F403  (the project's settings, unchanged)
from config.settings import LOGGING

LOGGING["loggers"]["django.db.backends"] = {"level": "DEBUG"}
