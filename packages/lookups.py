"""Lookups that nearly every request of a kind makes, compiled to SQL once
(pypi_site/prepared.py): compiling a queryset costs about ten times what SQLite takes to run it.
"""

from __future__ import annotations

from packages.models import Project
from pypi_site.prepared import PreparedObjects


def _live_project_named(name: str):
    return Project.objects.filter(normalized_name=name)[:1]


# The live project with this normalized name (packages.names.normalize_name).
PROJECT_BY_NAME = PreparedObjects(Project, _live_project_named, name=str)

# The same, with only what a read of its cached pages needs (packages/views/index.py).
PROJECT_FOR_READ = PreparedObjects(
    Project,
    _live_project_named,
    fields=(
        "id",
        "name",
        "normalized_name",
        "last_serial",
        "lifecycle_status",
        "is_private",
        "organization_id",
        "origin",
    ),
    name=str,
)
