"""Errors the framework and modules raise; `modulith.http.errors` maps them to statuses."""


class ConfigurationError(Exception):
    """The environment describes a deployment that cannot work. Reported in one line."""


class DomainError(Exception):
    """A business rule refused a request. Subclasses say which HTTP status fits."""

    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidInput(DomainError):
    status_code = 422
    code = "invalid_input"


class NotFound(DomainError):
    status_code = 404
    code = "not_found"


class Conflict(DomainError):
    status_code = 409
    code = "conflict"
