"""The ASGI entry point (uvicorn: `uvicorn config.asgi:application`), for async views; sync
views run too, on Django's threads. The embedded relay starts as under WSGI, with the first
request (see modulith.outbox.embedded_relay)."""

import os

from django.core.asgi import get_asgi_application

from config.serving import checked

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

application = checked(get_asgi_application)
