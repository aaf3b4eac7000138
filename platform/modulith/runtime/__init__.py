"""The runtime of this process: composed once from the settings (`bootstrap`), installed, and
looked up (`current`); and how an uncaught configuration error ends it (`excepthook`)."""

from modulith.runtime.current import Runtime, install, runtime

__all__ = ["Runtime", "install", "runtime"]
