"""The subscriber keeps the account's id, no longer a foreign key to accounts' table: the same
column (user_id), its values kept."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("newsletter", "0001_initial")]

    operations = [
        migrations.AlterField(
            model_name="subscriber",
            name="user",
            field=models.BigIntegerField(blank=True, db_column="user_id", db_index=True, null=True),
        ),
        migrations.RenameField(model_name="subscriber", old_name="user", new_name="account_id"),
    ]
