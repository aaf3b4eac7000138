"""Django system checks of the running modules (ids modulith.E001 and on, listed with their
fixes in docs/architecture.md), run by `manage.py check`, every management command, and at
the start of a WSGI server (`raise_for_errors`)."""

from modulith.modules.checks.registry import register_checks
from modulith.modules.checks.scope import TAG
from modulith.modules.checks.start import raise_for_errors

__all__ = ["TAG", "raise_for_errors", "register_checks"]
