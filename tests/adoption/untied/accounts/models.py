from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    """The project's user: groups and permissions from Django's auth."""


class Notice(models.Model):
    """Something a user is told."""

    user = models.ForeignKey(User, on_delete=models.CASCADE)
    text = models.CharField(max_length=200)

    def __str__(self) -> str:
        return self.text
