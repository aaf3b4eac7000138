from typing import Any

from django.conf import settings
from django.db.models.signals import post_save
from django.dispatch import receiver

from newsletter.models import Newsletter, Subscriber


@receiver(post_save, sender=settings.AUTH_USER_MODEL)
def subscribe_new_user(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
    """A new user reads the weekly newsletter."""
    if created:
        subscriber = Subscriber.objects.create(email=instance.email, user=instance)
        subscriber.newsletters.add(
            Newsletter.objects.get_or_create(slug="weekly", name="Weekly")[0]
        )
