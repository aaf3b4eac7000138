"""The runtime this process runs on, held in one place. The composition root installs it
(`modulith.runtime.install`) and everything reads it here: `modulith.runtime.runtime()` as the
whole, and the layers below the composition (publishing, query ports), which cannot name the
Runtime, through a Protocol of the parts they use. Read on every event's way and by the
database router on every query, so it is one attribute, with no call and no check."""

from typing import Any, NoReturn

NOT_SET_UP = "modulith is not set up: add 'modulith' to INSTALLED_APPS"


class _NotSetUp:
    """Stands for the runtime until one is installed: any use of it says what is missing."""

    def __getattr__(self, name: str) -> NoReturn:
        raise RuntimeError(NOT_SET_UP)


class Installed:
    runtime: Any = _NotSetUp()


INSTALLED = Installed()


def install_runtime(runtime: object | None) -> None:
    INSTALLED.runtime = _NotSetUp() if runtime is None else runtime
