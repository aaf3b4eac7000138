"""Moved to `modulith.ports.remote`: this path keeps working, with a DeprecationWarning."""

from modulith.conf.moved import moved

moved("modulith.remote", "modulith.ports.remote")
