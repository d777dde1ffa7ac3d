"""One search document per project (packages/search_documents.py) instead of a full-text index
over every release's description.

A common word matched millions of release rows through `packages_release_document_tsv`; the
project-level document matches each project once. Both index operations run CONCURRENTLY on
PostgreSQL (hence `atomic = False`), so uploads go on while they build: the old index took
45 minutes to build on the public index's shape. The documents of existing projects are
written here, in batches that each commit (a few minutes at the public index's size, no long
lock); `manage.py rebuild_search_index` does the same again whenever needed.
"""

import django.contrib.postgres.indexes
import django.contrib.postgres.search
import django.db.models.deletion
from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class AddIndexConcurrentlyOnPostgres(AddIndexConcurrently):
    """CREATE INDEX CONCURRENTLY on PostgreSQL; a plain CREATE INDEX elsewhere (SQLite has no
    concurrent build, and search there does not read the document)."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)
        elif not isinstance(self.index, django.contrib.postgres.indexes.GinIndex):
            model = to_state.apps.get_model(app_label, self.model_name)
            schema_editor.add_index(model, self.index)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)
        elif not isinstance(self.index, django.contrib.postgres.indexes.GinIndex):
            model = from_state.apps.get_model(app_label, self.model_name)
            schema_editor.remove_index(model, self.index)


# The definition migration 0002 created, for going back.
OLD_RELEASE_INDEX = (
    "CREATE INDEX CONCURRENTLY IF NOT EXISTS packages_release_document_tsv ON packages_release "
    "USING gin (to_tsvector('english'::regconfig, "
    "summary || ' ' || keywords || ' ' || left(description, 100000)))"
)


def fill_documents(apps, schema_editor):
    # The module's own SQL, so the migration and the command can never disagree on what a
    # document holds. Batches commit one by one: the migration is not atomic.
    from packages.search_documents import rebuild_search_documents

    if schema_editor.connection.vendor == "postgresql":
        rebuild_search_documents()


def drop_release_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX CONCURRENTLY IF EXISTS packages_release_document_tsv")


def create_release_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(OLD_RELEASE_INDEX)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("packages", "0010_analyze_after_history"),
    ]

    operations = [
        migrations.CreateModel(
            name="SearchDocument",
            fields=[
                (
                    "project",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="search_document",
                        serialize=False,
                        to="packages.project",
                    ),
                ),
                ("document", django.contrib.postgres.search.SearchVectorField(null=True)),
                ("popularity", models.IntegerField(default=0)),
            ],
        ),
        AddIndexConcurrentlyOnPostgres(
            model_name="searchdocument",
            index=django.contrib.postgres.indexes.GinIndex(
                fields=["document"], name="packages_search_document_gin"
            ),
        ),
        AddIndexConcurrentlyOnPostgres(
            model_name="searchdocument",
            index=models.Index(
                models.OrderBy(models.F("popularity"), descending=True),
                name="packages_search_popularity",
            ),
        ),
        migrations.RunPython(fill_documents, migrations.RunPython.noop),
        migrations.RunPython(drop_release_index, create_release_index),
    ]
