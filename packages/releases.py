"""Creating projects and releases, adding files, yanking: the writes behind uploads, admin and
commands. Each journals its change."""

from __future__ import annotations

import itertools
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.core.files.storage import storages
from django.db import transaction
from django.db.models import QuerySet, Sum
from django.utils import timezone
from packaging.version import Version

from packages.events import EventTag, record_project_event
from packages.jobs import render_description
from packages.journal import record_change
from packages.lookups import PROJECT_BY_NAME
from packages.models import (
    File,
    FilenameRegistry,
    Project,
    Release,
    Role,
    RoleInvitation,
    RoleName,
    TeamProjectRole,
    YankChange,
)
from packages.names import lookup_name, normalize_name, ultranormalize_name
from packages.versions import canonical_version, lookup_version
from pypi_site.jobs import enqueue
from pypi_site.prepared import PreparedInsert, PreparedObjects, PreparedQuery


class ReleaseNotFound(LookupError):
    pass


def find_project(name: str) -> Project | None:
    normalized = lookup_name(name)
    if normalized is None:
        return None
    return PROJECT_BY_NAME.first(name=normalized)


def create_project(*, name: str, owner: AbstractBaseUser) -> Project:
    """New project with `owner` as its Owner. Raises IntegrityError if the name was taken
    concurrently; callers retry and find the project."""
    project = Project.objects.create(
        name=name,
        normalized_name=normalize_name(name),
        ultranormalized_name=ultranormalize_name(name),
    )
    Role.objects.create(user=owner, project=project, role_name=RoleName.OWNER)
    record_change(project=project, action="create", user=owner)
    record_change(project=project, action=f"add Owner {owner.get_username()}", user=owner)
    return project


def find_release(*, project: Project, version: str, fields: tuple[str, ...] = ()) -> Release | None:
    """The project's release of `version` (in any spelling PEP 440 equates), with only
    `fields` loaded when given (the rest load on access), and its project set to `project`."""
    canonical = lookup_version(version)
    if canonical is None:
        return None
    release = _release_by_version(fields).first(project_id=project.pk, version=canonical)
    if release is not None:
        release.project = project
    return release


_RELEASE_BY_VERSION: dict[tuple[str, ...], PreparedObjects] = {}


def _release_by_version(fields: tuple[str, ...]) -> PreparedObjects:
    """Compiled once per set of fields asked for (a few, all in the code)."""
    lookup = _RELEASE_BY_VERSION.get(fields)
    if lookup is None:
        lookup = _RELEASE_BY_VERSION[fields] = PreparedObjects(
            Release,
            lambda project_id, version: Release.objects.filter(
                project_id=project_id, canonical_version=version
            )[:1],
            fields=fields,
            project_id=int,
            version=str,
        )
    return lookup


def create_release(
    *, project: Project, metadata: dict, user: AbstractBaseUser, uploaded_via: str = ""
) -> Release:
    """Add a release at its place in the project's PEP 440 order (under the project's row
    lock)."""
    version = metadata["version"]
    parsed = Version(version)
    place = _free_place(project, parsed)
    release = _INSERT_RELEASE.create(
        project=project,
        version=version,
        canonical_version=canonical_version(version),
        is_prerelease=parsed.is_prerelease,
        uploader=user,
        uploaded_via=uploaded_via[:300],
        sort_order=0 if place is None else place,
        **{k: v for k, v in metadata.items() if k != "version"},
    )
    if place is None:
        _reorder_releases(project)
        release.refresh_from_db(fields=["sort_order"])
    record_change(project=project, action="new release", version=version, user=user)
    if release.description:
        enqueue(render_description, release.pk)
    return release


# Releases are numbered SORT_GAP apart, so an older version uploaded late (a backport) takes a
# free number between its neighbours and no other row changes. Moving rows is what cost: on
# PostgreSQL each rewritten release also rewrites its full-text index entry (to_tsvector of the
# description), and shifting 1,000 releases up by one took 0.5 s (python -m bench.scale).
SORT_GAP = 1024


# Every upload of a new version or file adds these rows (pypi_site/prepared.py).
_INSERT_RELEASE = PreparedInsert(Release)
_INSERT_FILE = PreparedInsert(File)
_INSERT_FILENAME = PreparedInsert(FilenameRegistry)

# The newest releases, enough to place the usual backport (a fix to the previous series, or
# uploads of consecutive versions arriving out of order) without reading every release.
_NEWEST_RELEASES = PreparedQuery(
    lambda project_id: (
        Release.all_objects.filter(project_id=project_id)
        .order_by("-sort_order", "-pk")
        .values_list("version", "sort_order")[:16]
    ),
    project_id=int,
)


def _free_place(project: Project, parsed: Version) -> int | None:
    """The `sort_order` for a new release of version `parsed`, or None when the project must be
    renumbered first: the stored order is not a clean increasing sequence (rows made outside
    `create_release`), or its neighbours have no free number left between them.

    The usual release is newer than all before it: it goes SORT_GAP after the last (one query).
    A backport newer than the 16th newest release is placed among those; an older one reads
    the project's releases and is placed by binary search, so only O(log n) of their versions
    are parsed. Deleted releases keep their place, so the point-in-time view orders them too.
    """
    newest = _NEWEST_RELEASES.rows(project_id=project.pk)
    if not newest:
        return 0
    if Version(newest[0][0]) < parsed:
        return newest[0][1] + SORT_GAP
    if len(newest) < 16 or Version(newest[-1][0]) < parsed:
        rows = newest[::-1]
    else:
        rows = list(
            Release.all_objects.filter(project=project)
            .order_by("sort_order", "pk")
            .values_list("version", "sort_order")
        )
    orders = [order for _version, order in rows]
    if any(later <= earlier for earlier, later in itertools.pairwise(orders)):
        return None
    low, high = 0, len(rows)
    while low < high:
        middle = (low + high) // 2
        if Version(rows[middle][0]) < parsed:
            low = middle + 1
        else:
            high = middle
    after = orders[low]
    before = orders[low - 1] if low else after - 2 * SORT_GAP
    return (before + after) // 2 if after - before > 1 else None


def _reorder_releases(project: Project) -> None:
    """Number the project's releases (deleted ones too) SORT_GAP apart in PEP 440 order."""
    releases = list(Release.all_objects.filter(project=project).only("id", "version", "sort_order"))
    releases.sort(key=lambda r: Version(r.version))
    changed = []
    for position, release in enumerate(releases):
        if release.sort_order != position * SORT_GAP:
            release.sort_order = position * SORT_GAP
            changed.append(release)
    Release.all_objects.bulk_update(changed, ["sort_order"], batch_size=500)


def add_file(*, release: Release, user: AbstractBaseUser, **fields) -> File:
    """Record a stored file; the filename joins the registry for good."""
    file = _INSERT_FILE.create(release=release, uploader=user, **fields)
    _INSERT_FILENAME.create(filename=file.filename)
    record_change(
        project=release.project,
        version=release.version,
        action=f"add {file.python_version} file {file.filename}",
        user=user,
        size_delta=file.size,
        changes_search=False,
    )
    return file


def set_yank_state(
    *, release: Release, yanked: bool, reason: str = "", at: datetime | None = None
) -> None:
    """Set a release's PEP 592 state and add the change to its history (YankChange), which the
    point-in-time view reads to undo later yanks and un-yanks. The one writer of both: anything
    that changes `Release.yanked` (an upstream refresh too) calls this."""
    at = at or timezone.now()
    reason = reason if yanked else ""
    Release.objects.filter(pk=release.pk).update(
        yanked=yanked, yanked_reason=reason, yanked_at=at if yanked else None
    )
    YankChange.objects.create(release=release, yanked=yanked, reason=reason, time=at)
    release.yanked, release.yanked_reason = yanked, reason


@transaction.atomic
def yank_release(
    *,
    release: Release,
    reason: str,
    user: AbstractBaseUser | None = None,
    ip_address: str | None = None,
) -> None:
    """PEP 592: installers skip the release unless pinned; files stay downloadable."""
    set_yank_state(release=release, yanked=True, reason=reason)
    record_change(
        project=release.project, version=release.version, action="yank release", user=user
    )
    record_project_event(
        project=release.project,
        tag=EventTag.RELEASE_YANK,
        user=user,
        ip_address=ip_address,
        version=release.version,
        reason=reason,
    )


@transaction.atomic
def unyank_release(
    *, release: Release, user: AbstractBaseUser | None = None, ip_address: str | None = None
) -> None:
    set_yank_state(release=release, yanked=False)
    record_change(
        project=release.project, version=release.version, action="unyank release", user=user
    )
    record_project_event(
        project=release.project,
        tag=EventTag.RELEASE_UNYANK,
        user=user,
        ip_address=ip_address,
        version=release.version,
    )


def get_release(*, project_name: str, version: str) -> Release:
    project = find_project(project_name)
    release = find_release(project=project, version=version) if project else None
    if release is None:
        raise ReleaseNotFound(f"No release {version} of project {project_name!r}")
    return release


def _delete_stored_after_commit(files: list[File]) -> None:
    """Stored objects go only once the rows are gone for good; filenames stay registered."""
    keys = [key for f in files for key in (f.path, f.metadata_path if f.metadata_sha256 else None)]

    def delete() -> None:
        storage = storages["default"]
        for key in keys:
            if key:
                storage.delete(key)

    transaction.on_commit(delete)


# Deleting. An owner's deletion takes a file, release or project off the live index at once but
# keeps the rows (`deleted_at`) and the bytes, so the point-in-time view (packages/history.py)
# still shows them at earlier moments. `purge=True` removes rows and bytes for good, so they are
# gone at every moment too: staff removals (packages/moderation.py) and `purge_deleted` do that.


@transaction.atomic
def delete_file(
    *,
    file: File,
    user: AbstractBaseUser | None = None,
    ip_address: str | None = None,
    reason: str = "",
    purge: bool = False,
) -> None:
    """Owners' pages and staff both delete through here; `reason` is staff's."""
    release = file.release
    record_project_event(
        project=release.project,
        tag=EventTag.FILE_REMOVE,
        user=user,
        ip_address=ip_address,
        version=release.version,
        filename=file.filename,
        **_reason(reason),
    )
    # A file deleted before (kept for history, now purged) no longer counts.
    size_delta = -file.size if file.deleted_at is None else 0
    if purge:
        file.delete()
        _delete_stored_after_commit([file])
    else:
        File.objects.filter(pk=file.pk).update(deleted_at=timezone.now())
    record_change(
        project=release.project,
        version=release.version,
        action=f"remove file {file.filename}",
        user=user,
        size_delta=size_delta,
    )


@transaction.atomic
def delete_release(
    *,
    release: Release,
    user: AbstractBaseUser | None = None,
    ip_address: str | None = None,
    reason: str = "",
    purge: bool = False,
) -> None:
    record_project_event(
        project=release.project,
        tag=EventTag.RELEASE_REMOVE,
        user=user,
        ip_address=ip_address,
        version=release.version,
        **_reason(reason),
    )
    live = File.objects.filter(release=release)
    size = live.aggregate(s=Sum("size"))["s"] or 0
    if purge:
        files = list(File.all_objects.filter(release=release))
        release.delete()
        _delete_stored_after_commit(files)
    else:
        now = timezone.now()
        live.update(deleted_at=now)
        Release.all_objects.filter(pk=release.pk, deleted_at__isnull=True).update(deleted_at=now)
    record_change(
        project=release.project,
        version=release.version,
        action="remove release",
        user=user,
        size_delta=-size,
    )


@transaction.atomic
def delete_project(
    *,
    project: Project,
    user: AbstractBaseUser | None = None,
    ip_address: str | None = None,
    reason: str = "",
    purge: bool = False,
) -> None:
    """Remove a project with its releases and files. The journal and the project's events keep
    its history and the filename registry keeps every filename it used. Roles and invitations
    go either way: nobody keeps rights over a deleted project, and its name is free again."""
    record_project_event(
        project=project,
        tag=EventTag.PROJECT_REMOVE,
        user=user,
        ip_address=ip_address,
        **_reason(reason),
    )
    record_change(project=project, action="remove project", user=user)
    if purge:
        files = list(File.all_objects.filter(release__project=project))
        project.delete()
        _delete_stored_after_commit(files)
        return
    now = timezone.now()
    File.objects.filter(release__project=project).update(deleted_at=now)
    Release.objects.filter(project=project).update(deleted_at=now)
    # Out of its organization too: a kept row must not hold the organization (PROTECT).
    Project.objects.filter(pk=project.pk).update(deleted_at=now, total_size=0, organization=None)
    project.deleted_at, project.organization = now, None
    Role.objects.filter(project=project).delete()
    TeamProjectRole.objects.filter(project=project).delete()
    RoleInvitation.objects.filter(project=project).delete()
    project.api_tokens.clear()  # A scoped token stays scoped (to nothing).


def deleted_files(
    *, deleted_before: datetime | None = None, normalized_name: str = "", filename: str = ""
) -> QuerySet:
    """Deleted files still kept (rows and bytes) for the point-in-time view, narrowed by when
    they were deleted, by project name and by filename."""
    files = File.all_objects.exclude(deleted_at=None).select_related("release__project")
    if deleted_before is not None:
        files = files.filter(deleted_at__lt=deleted_before)
    if normalized_name:
        files = files.filter(release__project__normalized_name=normalized_name)
    if filename:
        files = files.filter(filename=filename)
    return files.order_by("pk")


@transaction.atomic
def purge_deleted_file(*, file: File, user: AbstractBaseUser | None = None) -> None:
    """Remove a deleted file's row and bytes for good, so it is gone from the point-in-time
    view at every moment too (retention, malware found later, legal). A deleted release or
    project goes with its last file. The filename stays registered."""
    assert file.deleted_at is not None, "live files are removed with delete_file(purge=True)"
    release = file.release
    project = release.project
    file.delete()
    _delete_stored_after_commit([file])
    # A new serial: cached point-in-time pages of the project are keyed by it.
    record_change(
        project=project, version=release.version, action=f"purge file {file.filename}", user=user
    )
    if release.deleted_at is not None and not File.all_objects.filter(release=release).exists():
        release.delete()
    if project.deleted_at is not None and not Release.all_objects.filter(project=project).exists():
        project.delete()


def _reason(reason: str) -> dict[str, str]:
    return {"reason": reason} if reason else {}
