"""API keys: every operation of the public API needs one unless it says otherwise."""

import hmac
from typing import Any

from django.http import HttpRequest
from ninja.security import APIKeyHeader

from modulith.conf import modulith_settings


class ApiKey(APIKeyHeader):
    """Accepts a request whose `X-API-Key` is one of MODULITH_API_KEYS. Every key may call
    every operation that asks for one: a key is a trusted client (the storefront's backend,
    the back office), not a customer."""

    param_name = "X-API-Key"

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        if not key:
            return None
        for valid in modulith_settings().api_keys:
            if hmac.compare_digest(key.encode(), valid.encode()):
                return valid
        return None
