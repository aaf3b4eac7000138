from newsletter.models import Newsletter, Subscriber

from contracts.newsletter import Subscribed
from modulith.bus import atomic, publish
from modulith.db import database_of


def subscriber_add(*, email: str, account_id: int | None, newsletter: str) -> Subscriber:
    with atomic(using=database_of("newsletter")):
        read, _ = Newsletter.objects.get_or_create(slug=newsletter, defaults={"name": newsletter})
        subscriber = Subscriber.objects.create(email=email, account_id=account_id)
        subscriber.newsletters.add(read)
        publish(
            Subscribed(subscriber_id=subscriber.pk, account_id=account_id, newsletter=newsletter)
        )
    return subscriber
