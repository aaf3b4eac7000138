"""API keys for requests that change state."""

import hmac
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from ninja.security import APIKeyHeader


class ApiKey(APIKeyHeader):
    """Accepts a request whose `X-API-Key` is one of MODULITH_API_KEYS."""

    param_name = "X-API-Key"

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        if not key:
            return None
        for valid in settings.MODULITH_API_KEYS:
            if hmac.compare_digest(key.encode(), valid.encode()):
                return valid
        return None
