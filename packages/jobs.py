"""Background jobs of the packages app. Each takes ids, loads rows and is safe to run twice."""

from __future__ import annotations

from django.utils import timezone

from packages import maintenance, rendering
from packages.models import Release


def render_description(release_id: int) -> None:
    """Render a release's description into `description_html`; a deleted release is skipped."""
    release = (
        Release.objects.filter(pk=release_id)
        .only("id", "description", "description_content_type")
        .first()
    )
    if release is None:
        return
    html = rendering.render_description(
        text=release.description, content_type=release.description_content_type
    )
    Release.objects.filter(pk=release_id).update(
        description_html=html, description_rendered_at=timezone.now()
    )


# --- Maintenance and moderation jobs (packages/maintenance.py, packages/moderation.py) -------


def recompute_project_size(project_id: int) -> None:
    """Correct a project's total size from its files; a deleted project is skipped."""
    maintenance.recompute_size(project_id)


def extract_file_metadata(file_id: int) -> None:
    """Store a wheel's PEP 658 metadata if it is missing; a deleted file is skipped."""
    maintenance.extract_metadata(file_id)
