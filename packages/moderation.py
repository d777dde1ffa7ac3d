"""What staff do to projects and names: the domain functions behind the admin actions and the
moderation commands (Warehouse `admin/views/projects.py`; users are accounts/moderation.py's).

Every action takes who did it (`by`, None from a command, whose actor packages.journal.acting_as
records) and why (`reason`). Project actions journal the change with its author, as Warehouse
does, and keep the reason in a ProjectEvent: the journal is public (mirrors read it) while
events are the staff's and owners' record. A quarantine's reason is the staff's alone (owners
see its public notice instead). User
actions go to the user's security history (UserEvent) and, with their author, to Django admin's
log.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.contenttypes.models import ContentType
from django.db import transaction

from accounts.moderation import ModerationError, freeze_user, user_or_none
from packages import flags, releases
from packages.events import EventTag, record_project_event
from packages.journal import record_change
from packages.models import (
    File,
    LifecycleStatus,
    ProhibitedProjectName,
    Project,
    ProjectEvent,
    Release,
    Role,
)
from packages.names import normalize_name, ultranormalize_name
from packages.permissions import Denial

# PyPI's bounds for a project's limits (reference section 6): a file limit between 100 MiB and
# the hard cap, a total of at least the site default. None means "the site default".
MIN_UPLOAD_LIMIT = 100 * 1024**2

# What readers and owners of a quarantined project are told when staff write no notice.
DEFAULT_QUARANTINE_NOTICE = (
    "The index administrators are reviewing this project. Its files cannot be installed "
    "until the review is over."
)
# A project event's key for a reason only staff may read; owners' history pages leave it out.
STAFF_REASON = "staff_reason"


def record_event(
    *,
    project: Project,
    tag: str,
    by: AbstractBaseUser | None,
    reason: str = "",
    **additional: object,
) -> ProjectEvent:
    return record_project_event(project=project, tag=tag, user=by, reason=reason, **additional)


# --- Projects -------------------------------------------------------------------------------


@transaction.atomic
def quarantine_project(
    *,
    project: Project,
    reason: str,
    notice: str = "",
    by: AbstractBaseUser | None = None,
    freeze_users: bool = False,
) -> bool:
    """Hide a project from the simple index and the JSON API and refuse uploads to it (PEP 792
    `quarantined`). `notice` is what readers and owners see (a neutral text when empty);
    `reason` stays with staff. With `freeze_users`, also freeze everyone with a role on it, as
    Warehouse does for malware. Returns False if it was already quarantined."""
    project = Project.objects.select_for_update().get(pk=project.pk)
    if project.is_quarantined:
        return False
    notice = notice.strip() or DEFAULT_QUARANTINE_NOTICE
    _set_quarantine(project, status=LifecycleStatus.QUARANTINE_ENTER, notice=notice, reason=reason)
    record_project_event(
        project=project,
        tag=EventTag.QUARANTINE_ENTER,
        user=by,
        notice=notice,
        **{STAFF_REASON: reason},
    )
    # The journal bumps the project's serial, so every cached page of it is rendered again.
    record_change(project=project, action="project quarantined", user=by)
    if freeze_users:
        for role in Role.objects.filter(project=project).select_related("user"):
            # The frozen user sees this in their own history: the notice, not the reason.
            freeze_user(user=role.user, reason=f"Quarantine of {project.name}: {notice}", by=by)
    return True


@transaction.atomic
def clear_quarantine(*, project: Project, reason: str, by: AbstractBaseUser | None = None) -> bool:
    """Lift a quarantine; returns False if the project was not quarantined. The notice goes;
    the reason it was quarantined stays for staff."""
    project = Project.objects.select_for_update().get(pk=project.pk)
    if not project.is_quarantined:
        return False
    _set_quarantine(
        project,
        status=LifecycleStatus.QUARANTINE_EXIT,
        notice="",
        reason=project.quarantine_reason,
    )
    record_project_event(
        project=project, tag=EventTag.QUARANTINE_EXIT, user=by, **{STAFF_REASON: reason}
    )
    record_change(project=project, action="project quarantine cleared", user=by)
    return True


def _set_quarantine(project: Project, *, status: str, notice: str, reason: str) -> None:
    Project.objects.filter(pk=project.pk).update(
        lifecycle_status=status, quarantine_notice=notice, quarantine_reason=reason
    )
    project.lifecycle_status = status
    project.quarantine_notice, project.quarantine_reason = notice, reason


def quarantine_denial(project: Project) -> Denial | None:
    """Uploads to a quarantined project are refused until staff clear it."""
    if project.is_quarantined:
        return Denial(
            f"Project '{project.name}' is quarantined and does not accept uploads. "
            f"See {settings.HELP_URL}#admin-intervention for more information."
        )
    return None


@transaction.atomic
def remove_project(*, project: Project, reason: str, by: AbstractBaseUser | None = None) -> None:
    """Delete a project, its releases, files and stored objects; its filenames stay reserved.
    A staff removal is a purge: gone from the point-in-time view at every moment too."""
    releases.delete_project(project=project, user=by, reason=reason, purge=True)


@transaction.atomic
def remove_release(*, release: Release, reason: str, by: AbstractBaseUser | None = None) -> None:
    releases.delete_release(release=release, user=by, reason=reason, purge=True)


@transaction.atomic
def remove_file(*, file: File, reason: str, by: AbstractBaseUser | None = None) -> None:
    if file.deleted_at is not None:
        # Deleted by its owners and kept for the point-in-time view: now gone at every moment.
        releases.purge_deleted_file(file=file, user=by)
        return
    releases.delete_file(file=file, user=by, reason=reason, purge=True)


def check_limits(*, upload_limit: int | None, total_size_limit: int | None) -> None:
    """Raise ModerationError unless both limits are within PyPI's bounds (None: default)."""
    if upload_limit is not None and not (
        MIN_UPLOAD_LIMIT <= upload_limit <= settings.MAX_UPLOAD_LIMIT
    ):
        raise ModerationError(
            f"The file size limit must be between {MIN_UPLOAD_LIMIT // 1024**2} MiB and "
            f"{settings.MAX_UPLOAD_LIMIT // 1024**2} MiB."
        )
    if total_size_limit is not None and total_size_limit < settings.DEFAULT_TOTAL_SIZE_LIMIT:
        raise ModerationError(
            "The total size limit must be at least the site default of "
            f"{settings.DEFAULT_TOTAL_SIZE_LIMIT // 1024**3} GiB."
        )


@transaction.atomic
def set_project_limits(
    *,
    project: Project,
    upload_limit: int | None,
    total_size_limit: int | None,
    reason: str,
    by: AbstractBaseUser | None = None,
) -> None:
    """Raise (or reset to the default, with None) a project's file and total size limits."""
    check_limits(upload_limit=upload_limit, total_size_limit=total_size_limit)
    Project.objects.filter(pk=project.pk).update(
        upload_limit=upload_limit, total_size_limit=total_size_limit
    )
    project.upload_limit, project.total_size_limit = upload_limit, total_size_limit
    record_event(
        project=project,
        tag=EventTag.LIMITS_SET,
        by=by,
        reason=reason,
        upload_limit=upload_limit,
        total_size_limit=total_size_limit,
    )
    record_change(
        project=project,
        action=f"set upload limit {upload_limit or 'default'}, "
        f"total size limit {total_size_limit or 'default'}",
        user=by,
    )


# --- Names ----------------------------------------------------------------------------------


@transaction.atomic
def prohibit_name(
    *, name: str, comment: str, by: AbstractBaseUser | None = None
) -> ProhibitedProjectName:
    """Block a name, and every confusable spelling of it, for new projects. An existing project
    of that name is left alone (remove it separately). Prohibiting twice updates the comment."""
    normalized = normalize_name(name)
    prohibition, created = ProhibitedProjectName.objects.update_or_create(
        normalized_name=normalized,
        defaults={
            "name": name,
            "ultranormalized_name": ultranormalize_name(name),
            "comment": comment,
            "prohibited_by": user_or_none(by),
        },
    )
    project = Project.objects.filter(normalized_name=normalized).first()
    if project is not None:
        record_event(project=project, tag=EventTag.NAME_PROHIBIT, by=by, reason=comment)
    return prohibition


@transaction.atomic
def allow_name(*, name: str, reason: str, by: AbstractBaseUser | None = None) -> bool:
    """Lift a prohibition; returns False if the name was not prohibited."""
    deleted, _ = ProhibitedProjectName.objects.filter(normalized_name=normalize_name(name)).delete()
    project = Project.objects.filter(normalized_name=normalize_name(name)).first()
    if deleted and project is not None:
        record_event(project=project, tag=EventTag.NAME_ALLOW, by=by, reason=reason)
    return bool(deleted)


def new_project_name_denial(name: str) -> Denial | None:
    """Warehouse check 6, for an upload that would create `name` (already PEP 508-valid and
    not an existing project): prohibited names, then names confusable with an existing project
    or a prohibited name. Two indexed lookups."""
    help_link = f"See {settings.HELP_URL}#project-name for more information."
    normalized = normalize_name(name)
    if ProhibitedProjectName.objects.filter(normalized_name=normalized).exists():
        return Denial(f"The name {name!r} isn't allowed. {help_link}")
    ultra = ultranormalize_name(name)
    if (
        # A concurrent upload may have just created this very project: that is no look-alike,
        # and the upload goes on to the permission check against it.
        Project.objects.filter(ultranormalized_name=ultra)
        .exclude(normalized_name=normalized)
        .exists()
        or ProhibitedProjectName.objects.filter(ultranormalized_name=ultra).exists()
    ):
        return Denial(f"The name {name!r} is too similar to an existing project. {help_link}")
    return None


# --- Site flags -----------------------------------------------------------------------------


def set_flag(*, flag: str, enabled: bool, reason: str, banner: str | None = None, by=None) -> None:
    """Switch a site flag; the reason goes to Django admin's log."""
    row = flags.set_flag(flag=flag, enabled=enabled, banner=banner, by=by)
    if user_or_none(by) is not None:
        LogEntry.objects.create(
            user_id=by.pk,
            content_type_id=ContentType.objects.get_for_model(row).pk,
            object_id=row.pk,
            object_repr=str(row),
            action_flag=CHANGE,
            change_message=f"{'Enabled' if enabled else 'Disabled'}: {reason}",
        )
