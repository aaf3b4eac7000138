from newsletter.services import subscriber_add

from contracts.accounts import UserRegistered


def on_user_registered(event: UserRegistered) -> None:
    """A new user reads the weekly newsletter."""
    subscriber_add(email=event.email, account_id=event.user_id, newsletter="weekly")
