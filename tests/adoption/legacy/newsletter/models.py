from django.conf import settings
from django.contrib.contenttypes.fields import GenericRelation
from django.db import models


class Newsletter(models.Model):
    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=100)
    comments = GenericRelation("blog.Comment")

    def __str__(self) -> str:
        return self.name


class Subscriber(models.Model):
    email = models.EmailField()
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="subscriptions",
    )
    newsletters = models.ManyToManyField(Newsletter, related_name="subscribers")

    def __str__(self) -> str:
        return self.email
