"""API keys for requests that change state."""

import hmac
from typing import Any

from django.http import HttpRequest
from ninja.security import APIKeyHeader

from modulith.conf import modulith_settings


class ApiKey(APIKeyHeader):
    """Accepts a request whose `X-API-Key` is one of MODULITH_API_KEYS."""

    param_name = "X-API-Key"

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        if not key:
            return None
        for valid in modulith_settings().api_keys:
            if hmac.compare_digest(key.encode(), valid.encode()):
                return valid
        return None
