"""The provider's memory of the internal calls it answered: one row per nonce, in Django's own
database (`default`, never a module's: a read-only query should not write to its module's
database), made by `manage.py migrate` like every other table. Every instance of a service
shares it, so a replay to another instance is refused too."""

from django.db import models

# Where the table lives (modulith.database.router.ModuleRouter sends it there, and only there).
NONCE_DATABASE = "default"


class CallNonce(models.Model):
    """A nonce of an accepted call, kept until its signature is stale anyway. The primary key
    makes the insert the check: a second insert of the same nonce fails, whichever instance
    makes it."""

    nonce = models.CharField(max_length=64, primary_key=True)
    expires_at = models.DateTimeField()

    class Meta:
        verbose_name = "internal call nonce"
        indexes = [models.Index(fields=["expires_at"], name="call_nonce_expires_idx")]

    def __str__(self) -> str:
        return self.nonce
