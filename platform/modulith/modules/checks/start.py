"""The checks at the start of a process that runs no system checks of its own (a WSGI server
such as gunicorn): a broken manifest stops it with one line per error, before any request or
delivery could fail on it. Management commands run them through Django, with their hints."""

from django.core.checks import CheckMessage, run_checks

from modulith.modules.checks.scope import TAG
from modulith.modules.errors import ConfigurationError


def raise_for_errors(*, serves_requests: bool = True) -> None:
    """Raises ConfigurationError, one line per error of the modulith checks (warnings and
    SILENCED_SYSTEM_CHECKS do not stop a start). A process that serves requests also runs
    those of deployment that ask Django's own database (the nonce store of internal calls)."""
    found = run_checks(
        tags=[TAG],
        include_deployment_checks=serves_requests,
        databases=["default"] if serves_requests else None,
    )
    errors = sorted(
        (message for message in found if message.is_serious() and not message.is_silenced()),
        key=lambda message: (str(message.obj), message.id or ""),
    )
    if errors:
        raise ConfigurationError("\n".join(one_line(error) for error in errors))


def one_line(message: CheckMessage) -> str:
    """modulith.E001 orders handles OrderPlaced with ..., which cannot be imported: ..."""
    return f"{message.id} {message.msg}"
