"""Errors a query port may raise, whether the provider runs here or across the network."""


class QueryError(Exception):
    """Base class of every error a query port raises."""


class ProviderUnavailable(QueryError):
    """The providing module could not be reached in time; the caller may retry later."""

    def __init__(self, provider: str, detail: str) -> None:
        super().__init__(f"{provider} is unavailable: {detail}")
        self.provider = provider
        self.detail = detail


class ProviderError(QueryError):
    """The providing module answered, but with an error."""

    def __init__(self, provider: str, detail: str) -> None:
        super().__init__(f"{provider} failed: {detail}")
        self.provider = provider
        self.detail = detail
