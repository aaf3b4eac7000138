"""The WSGI entry point (gunicorn, runserver). The embedded relay starts in the app's ready()
(see modulith.outbox.embedded_relay), not here."""

import os

from django.core.wsgi import get_wsgi_application

from config.serving import checked

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

application = checked(get_wsgi_application)
