from typing import Protocol

from modulith.contracts import Event


class Subscribed(Event):
    subscriber_id: int
    account_id: int | None
    newsletter: str


class NewsletterQueries(Protocol):
    def subscribed_accounts(self, newsletter: str) -> list[int]:
        """The ids of the accounts that read this newsletter."""
        ...
