from django.db import models


class Newsletter(models.Model):
    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=100)

    def __str__(self) -> str:
        return self.name


class Subscriber(models.Model):
    email = models.EmailField()
    # The account's id, asked of accounts when needed: no foreign key to its table.
    account_id = models.BigIntegerField(null=True, blank=True, db_index=True, db_column="user_id")
    newsletters = models.ManyToManyField(Newsletter, related_name="subscribers")

    def __str__(self) -> str:
        return self.email
