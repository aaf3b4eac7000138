"""A ConfigurationError that nobody catches ends the process with one line, not a traceback.

Installed when the framework's app gets ready, so that the `manage.py` of any project (Django's
own catches nothing) says `configuration error: <what is wrong, and the fix>` and exits 1.
Every other exception is left to the hook that was there before.
"""

import sys
from types import TracebackType

from modulith.modules.errors import ConfigurationError

_previous = sys.excepthook


def install() -> None:
    """Makes `report` the hook of this process (once: installing again changes nothing)."""
    global _previous
    if sys.excepthook is not report:
        _previous = sys.excepthook
        sys.excepthook = report


def report(kind: type[BaseException], error: BaseException, trace: TracebackType | None) -> None:
    if issubclass(kind, ConfigurationError):
        for line in str(error).splitlines():  # an error of several lines names several faults
            sys.stderr.write(f"configuration error: {line}\n")
    else:
        _previous(kind, error, trace)
