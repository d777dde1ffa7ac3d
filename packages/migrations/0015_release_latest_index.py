"""An index for a project's "latest" release (packages/search_documents.py, packages/search.py):
every new release rewrites its project's search document, which sorted all of the project's
releases to find it (4 ms of PostgreSQL per upload into a 2,000-release project; 0.04 ms with
this index). Built CONCURRENTLY on PostgreSQL, so uploads go on while it builds."""

import importlib

from django.db import migrations, models

AddIndexConcurrentlyOnPostgres = importlib.import_module(
    "packages.migrations.0011_search_document"
).AddIndexConcurrentlyOnPostgres


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("packages", "0014_stored_document_keys")]

    operations = [
        AddIndexConcurrentlyOnPostgres(
            model_name="release",
            index=models.Index(
                models.F("project"),
                models.F("yanked"),
                models.F("is_prerelease"),
                models.OrderBy(models.F("sort_order"), descending=True),
                condition=models.Q(deleted_at__isnull=True),
                name="packages_release_latest_live",
            ),
        ),
    ]
