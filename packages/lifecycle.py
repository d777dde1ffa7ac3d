"""Owners archive and unarchive their projects (PEP 792 `archived`, Warehouse's
`utils/project.py`).

An archived project stays installable but accepts no uploads (packages.permissions.
upload_denial); the simple API, the project page and the JSON API say so, with the owners'
optional note as PEP 792's reason. Every change is journalled (so every cached and static
page of the project is rendered again) and recorded as a project event. A quarantine is
staff's business (packages/moderation.py): a quarantined project cannot be archived.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from packages.events import EventTag, record_project_event
from packages.journal import record_change
from packages.models import LifecycleStatus, Project

MAX_NOTE_LENGTH = 400


class LifecycleError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _set_status(project: Project, *, status: str, note: str) -> None:
    Project.objects.filter(pk=project.pk).update(
        lifecycle_status=status, lifecycle_status_note=note
    )
    project.lifecycle_status, project.lifecycle_status_note = status, note


@transaction.atomic
def archive_project(
    *,
    project: Project,
    by: AbstractBaseUser | None,
    note: str = "",
    ip_address: str | None = None,
) -> None:
    """1. Lock the row and refuse a quarantined or already archived project.
    2. Set the status and the public note.
    3. Record the event, then journal the change (which bumps the serial)."""
    locked = Project.objects.select_for_update().get(pk=project.pk)
    if locked.is_quarantined:
        raise LifecycleError(f"Cannot archive project {locked.name!r} while it is quarantined.")
    if locked.is_archived:
        raise LifecycleError(f"Project {locked.name!r} is already archived.")
    note = note.strip()[:MAX_NOTE_LENGTH]
    _set_status(project, status=LifecycleStatus.ARCHIVED, note=note)
    record_project_event(
        project=project,
        tag=EventTag.ARCHIVE_ENTER,
        user=by,
        ip_address=ip_address,
        note=note,
    )
    record_change(project=project, action="project archived", user=by)


@transaction.atomic
def unarchive_project(
    *, project: Project, by: AbstractBaseUser | None, ip_address: str | None = None
) -> None:
    """The project becomes active again and takes uploads; the note goes."""
    locked = Project.objects.select_for_update().get(pk=project.pk)
    if not locked.is_archived:
        raise LifecycleError("Can only unarchive an archived project.")
    _set_status(project, status=LifecycleStatus.ACTIVE, note="")
    record_project_event(project=project, tag=EventTag.ARCHIVE_EXIT, user=by, ip_address=ip_address)
    record_change(project=project, action="project unarchived", user=by)
