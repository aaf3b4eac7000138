"""modulith.E011: with DEBUG off, a process that serves the public API does not accept the
development API key. A deployment check (`manage.py check --deploy`, and the start of a WSGI
server or of a Lambda web function): a consumer, a relay or a migration serves no API and
needs no API key, so it is given none."""

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Error

from modulith.conf import modulith_settings, refuse_development_key
from modulith.modules.errors import ConfigurationError


def check_api_keys(app_configs: Sequence[AppConfig] | None, **kwargs: Any) -> list[CheckMessage]:
    try:
        refuse_development_key(modulith_settings(), debug=settings.DEBUG)
    except ConfigurationError as refused:
        return [
            Error(
                str(refused),
                hint="Set MODULITH_API_KEYS to keys of your own (a comma-separated list).",
                id="modulith.E011",
            )
        ]
    return []
