"""Fresh planner statistics after 0009 added `deleted_at` to projects, releases and files.

A column added to existing rows has no statistics until the next ANALYZE, and adding it
changes no rows, so autovacuum does not run one. Until then PostgreSQL guessed that few
releases are live and scanned them through the partial unique index instead of the full-text
index: website search took 3 s instead of 55 ms on bench/scale.py's data.
"""

from django.db import migrations


def analyze(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in ("packages_project", "packages_release", "packages_file"):
        schema_editor.execute(f"ANALYZE {table}")


class Migration(migrations.Migration):
    dependencies = [("packages", "0009_point_in_time_history")]

    operations = [migrations.RunPython(analyze, migrations.RunPython.noop)]
