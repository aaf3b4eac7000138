"""The SQS consumer's table. Each module database holds its own copy of it, like the outbox's:
every query names its database with `.using(alias)`."""

from django.db import models


class HandlingFailure(models.Model):
    """The last failure of a subscriber on an event that arrived by queue: SQS keeps no reason
    when its redrive policy moves a message to the dead-letter queue, so we keep it here."""

    event_id = models.UUIDField()
    subscriber = models.CharField(max_length=100)
    event_name = models.CharField(max_length=200)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField()
    last_failed_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["event_id", "subscriber"], name="handling_failure_event_subscriber_unique"
            )
        ]
        indexes = [models.Index(fields=["last_failed_at"], name="handling_failure_failed_idx")]

    def __str__(self) -> str:
        return f"{self.subscriber} failed {self.attempts}x on {self.event_name} {self.event_id}"
