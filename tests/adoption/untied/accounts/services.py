from accounts.models import User
from django.db import transaction

from contracts.accounts import UserRegistered
from modulith.bus import publish
from modulith.db import database_of


def user_register(*, username: str, email: str) -> User:
    with transaction.atomic(using=database_of("accounts")):
        user = User.objects.create_user(username=username, email=email, password=None)
        publish(UserRegistered(user_id=user.pk, email=email))
    return user
