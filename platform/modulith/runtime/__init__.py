"""The runtime of this process: composed once from the settings (`bootstrap`), installed,
and looked up (`current`)."""

from modulith.runtime.current import Runtime, install, runtime

__all__ = ["Runtime", "install", "runtime"]
