#!/usr/bin/env python
"""Django's command-line utility for the modulith shop."""

import os
import sys
from pathlib import Path


def main() -> None:
    # platform/ is a source root (the framework package `modulith` lives in it), never a package.
    sys.path.insert(1, str(Path(__file__).resolve().parent / "platform"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from django.core.management import execute_from_command_line

    from modulith.modules.errors import ConfigurationError

    try:
        execute_from_command_line(sys.argv)
    except ConfigurationError as error:
        sys.stderr.write(f"configuration error: {error}\n")
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
