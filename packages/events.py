"""A project's security history: the one function every writer calls to add to it."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser

from accounts.actors import actor_name
from packages.models import Project, ProjectEvent
from pypi_site.prepared import PreparedInsert


class EventTag:
    # Warehouse's names for project events.
    PROJECT_CREATE = "project:create"
    PROJECT_REMOVE = "project:remove"
    RELEASE_YANK = "project:release:yank"
    RELEASE_UNYANK = "project:release:unyank"
    RELEASE_REMOVE = "project:release:remove"
    FILE_ADD = "project:release:file:add"
    FILE_REMOVE = "project:release:file:remove"
    ROLE_INVITE = "project:role:invite"
    ROLE_ADD = "project:role:add"
    ROLE_CHANGE = "project:role:change"
    ROLE_REMOVE = "project:role:remove"
    ROLE_DECLINE_INVITE = "project:role:decline_invite"
    ROLE_REVOKE_INVITE = "project:role:revoke_invite"
    VISIBILITY_SET = "project:visibility:set"
    # By owners (packages/lifecycle.py).
    ARCHIVE_ENTER = "project:archive:enter"
    ARCHIVE_EXIT = "project:archive:exit"
    # Organizations (packages/ownership.py).
    ORGANIZATION_ADD = "project:organization:add"
    ORGANIZATION_REMOVE = "project:organization:remove"
    TEAM_ROLE_ADD = "project:team_role:add"
    TEAM_ROLE_CHANGE = "project:team_role:change"
    TEAM_ROLE_REMOVE = "project:team_role:remove"
    # By staff (packages/moderation.py).
    QUARANTINE_ENTER = "project:quarantine:enter"
    QUARANTINE_EXIT = "project:quarantine:exit"
    LIMITS_SET = "project:limits:set"
    NAME_PROHIBIT = "project:name:prohibit"
    NAME_ALLOW = "project:name:allow"


# Every upload records one (pypi_site/prepared.py).
_INSERT_EVENT = PreparedInsert(ProjectEvent)


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
    return _INSERT_EVENT.create(
        project=project if project.pk else None,
        project_name=project.name,
        tag=tag,
        user=by,
        ip_address=ip_address or None,
        additional={"submitted_by": actor_name(by), **additional},
    )
