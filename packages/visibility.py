"""Making a project private or public: the one write behind the owners' page and
`manage.py set_project_visibility`. Who may then read it is packages/permissions.py's rule."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from packages.events import EventTag, record_project_event
from packages.journal import record_change
from packages.models import Project


@transaction.atomic
def set_project_visibility(
    *,
    project: Project,
    private: bool,
    user: AbstractBaseUser | None = None,
    ip_address: str | None = None,
) -> bool:
    """Returns False when the project already was so.

    1. Lock the row and set `is_private`.
    2. Note it in the project's history.
    3. Journal it: the serial moves, so every cached page of the project is rendered again
       under the new access class, and the static pages and CDN copies are removed (private)
       or written again (public) by packages/publishing.py.
    """
    project = Project.objects.select_for_update().get(pk=project.pk)
    if project.is_private == private:
        return False
    Project.objects.filter(pk=project.pk).update(is_private=private)
    project.is_private = private
    visibility = "private" if private else "public"
    record_project_event(
        project=project,
        tag=EventTag.VISIBILITY_SET,
        user=user,
        ip_address=ip_address,
        visibility=visibility,
    )
    record_change(project=project, action=f"make {visibility}", user=user)
    return True
