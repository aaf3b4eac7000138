from accounts.models import Notice

from contracts.newsletter import Subscribed
from modulith.bus import atomic
from modulith.db import database_of


def on_subscribed(event: Subscribed) -> None:
    if event.account_id is None:
        return
    with atomic(using=database_of("accounts")):
        Notice.objects.create(user_id=event.account_id, text=f"You read {event.newsletter}")
