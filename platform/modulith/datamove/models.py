"""The state of a module's move to a database of its own (`manage.py movedata`), kept in both
databases it concerns: where the move stands, how far each table's copy has come (in the
database that receives it, committed with each batch), and the rows that changed meanwhile (in
the database they change in)."""

from django.db import connections, models


class MoveState(models.TextChoices):
    COPYING = "COPYING"  # tables being copied; the source still holds the module's data
    CUT_OVER = "CUT_OVER"  # copied and verified; the module runs on its own database
    DROPPED = "DROPPED"  # the old copy is gone from the source
    ABORTED = "ABORTED"  # given up before the cut-over; the source is as it was
    GOING_BACK = "GOING_BACK"  # its own database frozen, its tables copied back to the source
    BACK = "BACK"  # copied back after the cut-over; the module runs on the source again


class ModuleMove(models.Model):
    """One move of a module, as each of its two databases records it."""

    module = models.CharField(max_length=100)
    source = models.CharField(max_length=100, help_text="The alias it moves from.")
    state = models.CharField(max_length=12, choices=MoveState.choices)
    online = models.BooleanField(default=False)
    started_at = models.DateTimeField(auto_now_add=True)
    frozen_at = models.DateTimeField(null=True, blank=True)
    cut_over_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # At the cut-over, per table: {"rows": n, "checksum": "..."}.
    tables = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.module} from {self.source}: {self.state}"


class CopiedTable(models.Model):
    """How far the copy of one table has come: its rows up to `last_pk` are in this database."""

    module = models.CharField(max_length=100)
    table = models.CharField(max_length=200)
    last_pk = models.TextField(blank=True)
    rows = models.BigIntegerField(default=0)
    done = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["module", "table"], name="copied_table_unique")
        ]

    def __str__(self) -> str:
        return f"{self.module} {self.table}: {self.rows} rows"


class CapturedChange(models.Model):
    """A row of a moving module's table that was written while the copy ran (an online move):
    written by a trigger in the writer's transaction, copied again by the catch-up."""

    module = models.CharField(max_length=100)
    table_name = models.CharField(max_length=200)
    row = models.TextField(help_text="The primary key of the row, as text.")

    def __str__(self) -> str:
        return f"{self.module} {self.table_name} {self.row}"


def latest_move(alias: str, module: str) -> ModuleMove | None:
    """The latest move of `module` that the database `alias` records, if it records any."""
    if ModuleMove._meta.db_table not in connections[alias].introspection.table_names():
        return None
    return ModuleMove.objects.using(alias).filter(module=module).order_by("pk").last()
