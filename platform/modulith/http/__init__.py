"""The HTTP side of the framework: the API, its errors, API keys, pagination, health and
tracing."""

from modulith.http.api import build_api
from modulith.http.auth import ApiKey
from modulith.http.pagination import paginated
from modulith.http.schemas import CamelSchema

__all__ = ["ApiKey", "CamelSchema", "build_api", "paginated"]
