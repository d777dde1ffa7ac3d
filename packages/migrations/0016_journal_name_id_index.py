"""An index on the journal's (name, id): a project's entries newest first, read backwards
from its newest one (the admin's search by project name took 1.4 s, 22 s from disk, on the
public index's 12 million journal rows; see the model). Built CONCURRENTLY on PostgreSQL, so
that uploads, which add journal rows, go on while it builds."""

import importlib

from django.db import migrations, models

AddIndexConcurrentlyOnPostgres = importlib.import_module(
    "packages.migrations.0011_search_document"
).AddIndexConcurrentlyOnPostgres


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("packages", "0015_release_latest_index")]

    operations = [
        AddIndexConcurrentlyOnPostgres(
            model_name="journalentry",
            index=models.Index(fields=["name", "id"], name="packages_journal_name_id"),
        ),
    ]
