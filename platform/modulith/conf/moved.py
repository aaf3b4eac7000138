"""The deprecation path of a name that moved: its old module re-exports it and warns once, as
the module is imported once per process."""

import warnings


def moved(old: str, new: str) -> None:
    warnings.warn(
        f"{old} moved to {new}: import it from there ({old} goes in a later release)",
        DeprecationWarning,
        stacklevel=3,
    )
