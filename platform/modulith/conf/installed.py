"""The runtime this process runs on, held in one place. The composition root installs it
(`modulith.runtime.install`) and everything reads it here: `modulith.runtime.runtime()` as the
whole, and the layers below the composition (publishing, query ports), which cannot name the
Runtime, through a Protocol of the parts they use."""

from typing import Any

_installed: Any = None


def install_runtime(runtime: object | None) -> None:
    global _installed
    _installed = runtime


def installed() -> Any:
    if _installed is None:
        raise RuntimeError("modulith is not set up: add 'modulith' to INSTALLED_APPS")
    return _installed
