"""A project's security history: the one function every writer calls to add to it."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser

from packages.models import Project, ProjectEvent


def record_project_event(
    *,
    project: Project,
    tag: str,
    user: AbstractBaseUser | None,
    ip_address: str | None = None,
    **additional: object,
) -> ProjectEvent:
    """Add an event; a project deleted in the same transaction keeps its name on the row."""
    by = user if user is not None and user.is_authenticated else None
    return ProjectEvent.objects.create(
        project=project if project.pk else None,
        project_name=project.name,
        tag=tag,
        user=by,
        ip_address=ip_address or None,
        additional={"submitted_by": by.get_username() if by else "", **additional},
    )
