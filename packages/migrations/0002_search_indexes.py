"""Indexes behind the website: search (PostgreSQL only) and the "newest" lists (every database).

The search indexes are on expressions that packages/search.py repeats exactly, so PostgreSQL can
answer a query from the index instead of reading every row. They live outside Django's model
state because they are PostgreSQL expression and operator-class indexes.
"""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations

# Keep in step with packages/search.py (RELEASE_DOCUMENT and PROJECT_NAME_DOCUMENT).
POSTGRES_INDEXES = [
    (
        "packages_project_name_tsv",
        "CREATE INDEX IF NOT EXISTS packages_project_name_tsv ON packages_project "
        "USING gin (to_tsvector('english'::regconfig, name))",
    ),
    (
        "packages_project_name_trgm",
        "CREATE INDEX IF NOT EXISTS packages_project_name_trgm ON packages_project "
        "USING gin (normalized_name gin_trgm_ops)",
    ),
    (
        "packages_release_document_tsv",
        "CREATE INDEX IF NOT EXISTS packages_release_document_tsv ON packages_release "
        "USING gin (to_tsvector('english'::regconfig, "
        "summary || ' ' || keywords || ' ' || left(description, 100000)))",
    ),
    (
        "packages_release_classifiers",
        "CREATE INDEX IF NOT EXISTS packages_release_classifiers ON packages_release "
        "USING gin (classifiers jsonb_path_ops)",
    ),
]

PORTABLE_INDEXES = [
    (
        "packages_release_created",
        "CREATE INDEX IF NOT EXISTS packages_release_created ON packages_release (created)",
    ),
    (
        "packages_project_created",
        "CREATE INDEX IF NOT EXISTS packages_project_created ON packages_project (created)",
    ),
    (
        "packages_project_last_serial",
        "CREATE INDEX IF NOT EXISTS packages_project_last_serial ON packages_project "
        "(last_serial)",
    ),
]


def create_indexes(apps, schema_editor):
    indexes = PORTABLE_INDEXES
    if schema_editor.connection.vendor == "postgresql":
        indexes = POSTGRES_INDEXES + PORTABLE_INDEXES
    for _name, sql in indexes:
        schema_editor.execute(sql)


def drop_indexes(apps, schema_editor):
    indexes = PORTABLE_INDEXES
    if schema_editor.connection.vendor == "postgresql":
        indexes = POSTGRES_INDEXES + PORTABLE_INDEXES
    for name, _sql in indexes:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("packages", "0001_initial"),
    ]

    operations = [
        # CreateExtension does nothing on other databases.
        TrigramExtension(),
        migrations.RunPython(create_indexes, drop_indexes),
    ]
