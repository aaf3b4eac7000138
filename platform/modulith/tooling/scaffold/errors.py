"""The one error of scaffolding."""


class ScaffoldError(Exception):
    """The module cannot be scaffolded; the message says why and what to do, in one line."""
