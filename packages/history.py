"""The point-in-time view: the index as it was at a moment (`/as-of/<moment>/...`).

What was visible at moment T, read from the same tables as the live index:

- a file whose `upload_time` is at or before T (for proxied projects that is the upstream's
  upload-time), and which was not deleted by then (`deleted_at` unset or after T);
- a release that has such a file (or has no files at all and was created by T), not deleted by
  T; a project that was created by T or has such a file, not deleted by T;
- a release's PEP 592 state from its YankChange history: the last change at or before T, else
  the opposite of its first change (the state before it), else its current state (a release
  yanked without history, which only old data or direct writes leave).

Removals by staff are purges (packages/releases.py): their rows and bytes are gone, so they are
gone at every moment. A quarantine, and whatever `ProjectQuerySet.visible` and
`permissions.see_project_denial` hide, apply as they do now, whatever T is. Deleted files stay
downloadable from `/as-of/<T>/packages/<key>` (and only there) while their bytes are kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from packages import simple
from packages.files import file_by_key
from packages.models import File, Project, Release, YankChange
from packages.permissions import PUBLIC_SCOPE, ReadScope

# RFC 3339 section 5.6 date-time (with its lower-case and space variants).
_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d{1,6})?([Zz]|[+-]\d{2}:\d{2})$"
)
# Before any index of Python packages existed; bounds the range a URL can name.
EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)
EXAMPLE = "2026-11-01T00:00:00Z"


@dataclass(frozen=True)
class MomentError(ValueError):
    status: int
    message: str


def parse_moment(text: str) -> datetime:
    """A URL's moment as an aware UTC datetime. Raises MomentError: 400 for anything that is no
    RFC 3339 date-time or is before EARLIEST, 404 for a moment still to come."""
    if len(text) > 40 or not _RFC3339.match(text):
        raise MomentError(
            400, f"Not an RFC 3339 UTC timestamp: {text[:40]!r}; use the form {EXAMPLE}."
        )
    try:
        moment = datetime.fromisoformat(text.replace(" ", "T").upper()).astimezone(UTC)
    except (ValueError, OverflowError):
        raise MomentError(400, f"Not a valid date and time: {text!r}.") from None
    if moment < EARLIEST:
        raise MomentError(400, f"The index has no history before {format_moment(EARLIEST)}.")
    if moment > timezone.now():
        raise MomentError(404, f"{format_moment(moment)} is in the future.")
    return moment


def format_moment(moment: datetime) -> str:
    """The canonical spelling every other spelling redirects to: UTC, `Z`, microseconds only
    when there are some."""
    moment = moment.astimezone(UTC)
    fraction = f".{moment.microsecond:06d}" if moment.microsecond else ""
    return f"{moment:%Y-%m-%dT%H:%M:%S}{fraction}Z"


def moment_prefix(moment: datetime) -> str:
    return f"/as-of/{format_moment(moment)}"


def _alive(moment: datetime, prefix: str = "") -> Q:
    return Q(**{f"{prefix}deleted_at__isnull": True}) | Q(**{f"{prefix}deleted_at__gt": moment})


def _files_at(moment: datetime) -> QuerySet:
    """Files listed at `moment`: a mirrored file counts from the upstream's upload-time (this
    index may have learnt of it later), a local one from its own."""
    uploaded = Q(upstream_upload_time__lte=moment) | Q(
        upstream_upload_time__isnull=True, upload_time__lte=moment
    )
    return File.all_objects.filter(_alive(moment)).filter(uploaded)


def projects_at(moment: datetime) -> QuerySet:
    """Projects that existed at `moment`, through the live index's own root filter
    (`ProjectQuerySet.visible`), so whatever it hides today is hidden at every moment."""
    existed = Q(created__lte=moment) | Exists(
        _files_at(moment).filter(release__project=OuterRef("pk"))
    )
    return Project.all_objects.visible().filter(_alive(moment)).filter(existed)


def index_at(moment: datetime, *, scope: ReadScope = PUBLIC_SCOPE) -> list[tuple[str, str, int]]:
    """The root listing's rows (display name, normalized name, serial), one per name, of the
    projects this reader's scope may see (the live root's rule)."""
    rows = projects_at(moment).filter(scope.q()).order_by("normalized_name", "-created")
    seen: dict[str, tuple[str, str, int]] = {}
    for name, normalized, serial in rows.values_list("name", "normalized_name", "last_serial"):
        seen.setdefault(normalized, (name, normalized, serial))
    return list(seen.values())


def project_at(normalized_name: str, moment: datetime) -> Project | None:
    """The project that had this name at `moment` (a deleted name may have been taken again).
    Not filtered by `visible`: the caller asks the live view's own questions of it. One query
    when the project was created by then (the usual case, and every page-cache hit's)."""
    candidates = (
        Project.all_objects.filter(normalized_name=normalized_name)
        .filter(_alive(moment))
        .order_by("-created")
    )
    for project in candidates:
        if project.created <= moment or (
            _files_at(moment).filter(release__project=project).exists()
        ):
            return project
    return None


def yank_states(
    releases: dict[int, tuple[bool, str]], moment: datetime
) -> dict[int, tuple[bool, str]]:
    """(yanked, reason) at `moment` for releases given as {id: current (yanked, reason)}."""
    history: dict[int, list[tuple[datetime, bool, str]]] = {}
    changes = YankChange.objects.filter(release_id__in=list(releases)).order_by("time", "pk")
    for release_id, time, yanked, reason in changes.values_list(
        "release_id", "time", "yanked", "reason"
    ):
        history.setdefault(release_id, []).append((time, yanked, reason))
    states = {}
    for release_id, current in releases.items():
        changes_of = history.get(release_id)
        if not changes_of:
            states[release_id] = current
            continue
        before = [(yanked, reason) for time, yanked, reason in changes_of if time <= moment]
        states[release_id] = before[-1] if before else (not changes_of[0][1], "")
    return states


def deleted_file_url(path: str, moment: datetime) -> str:
    return f"{settings.SITE_URL}{moment_prefix(moment)}/packages/{path}"


def project_files_at(
    project: Project, moment: datetime, *, files_url: str, hidden: frozenset[int] = frozenset()
) -> list[simple.SimpleFile]:
    """The simple API's file list at `moment`, in the live list's order. A file deleted since
    links to its as-of URL (the live one answers 404); the others to their live URL."""
    rows = list(
        _files_at(moment)
        .filter(release__project=project)
        .exclude(pk__in=hidden)
        .order_by("release__sort_order", "filename")
        .values_list(
            "filename",
            "path",
            "sha256_digest",
            "size",
            "upload_time",
            "metadata_sha256",
            "deleted_at",
            "release_id",
            "release__version",
            "release__requires_python",
            "release__yanked",
            "release__yanked_reason",
            "has_provenance",
        )
    )
    yanks = yank_states({row[7]: (row[10], row[11]) for row in rows}, moment)
    return [
        simple.simple_file(
            project,
            filename=filename,
            url=deleted_file_url(path, moment) if deleted_at else f"{files_url}{path}",
            sha256=sha256,
            size=size,
            uploaded=uploaded,
            requires_python=requires_python,
            yanked=yanks[release_id][0],
            yanked_reason=yanks[release_id][1],
            metadata_sha256=metadata_sha256,
            version=version,
            # The Integrity API answers for live files only.
            has_provenance=has_provenance and deleted_at is None,
        )
        for (
            filename,
            path,
            sha256,
            size,
            uploaded,
            metadata_sha256,
            deleted_at,
            release_id,
            version,
            requires_python,
            _yanked_now,
            _reason_now,
            has_provenance,
        ) in rows
    ]


def releases_at(
    project: Project, moment: datetime, *, hidden: frozenset[int] = frozenset()
) -> tuple[list[Release], list[File]]:
    """The JSON API's releases (PEP 440 order, PEP 592 state at `moment` set on them, not
    saved) and files at `moment`; files in `hidden` (the release-age policy) are left out, and
    so is a release all of whose files are."""
    files = list(
        _files_at(moment)
        .filter(release__project=project)
        .exclude(pk__in=hidden)
        .order_by("filename")
    )
    with_files = {f.release_id for f in files}
    has_any_file = set(
        File.all_objects.filter(release__project=project).values_list("release_id", flat=True)
    )
    releases = [
        r
        for r in Release.all_objects.filter(_alive(moment), project=project).order_by("sort_order")
        if r.pk in with_files or (r.pk not in has_any_file and r.created <= moment)
    ]
    states = yank_states({r.pk: (r.yanked, r.yanked_reason) for r in releases}, moment)
    for release in releases:
        release.yanked, release.yanked_reason = states[release.pk]
    kept = {r.pk for r in releases}
    return releases, [f for f in files if f.release_id in kept]


def file_at(key: str, moment: datetime) -> File | None:
    """The File whose bytes (or PEP 658 metadata) `key` names, if it was visible at `moment`
    (deleted since or not), with its project: for `/as-of/<moment>/packages/<key>`."""
    return file_by_key(key, queryset=_files_at(moment))
