from django.contrib.auth.models import AbstractUser


class User(AbstractUser):
    """The project's user: groups and permissions from Django's auth."""
