"""Keeping upstream projects in packages' own tables: fetch, revalidate, sync, purge.

A name with a local project (Project.origin = local) is never touched here: upstream data is
never merged into it. Anything else the readers ask for is fetched from the upstream once per
UPSTREAM_PAGE_TTL, with the last page's ETag / Last-Modified so an unchanged page costs a 304,
and written as Project/Release/File rows with origin = upstream, so the simple pages, the JSON
API, the file route, the point-in-time view and the read-path rule treat it as any project.
When the upstream fails, the rows from the last good fetch keep being served (stale-if-error).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.cache import cache
from django.core.files.storage import storages
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone
from packaging.version import Version

from packages.filenames import parse_filename, storage_path
from packages.journal import record_change
from packages.models import File, Origin, PackageType, Project, Release
from packages.names import ultranormalize_name
from packages.releases import canonical_version, set_yank_state
from proxy import upstream
from proxy.locking import fill_lock
from proxy.models import UpstreamProject
from pypi_site import metrics

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Resolved:
    """What the proxy knows of a name that has no local project."""

    project: Project | None = None
    stale: str = ""  # why the served copy may be out of date (the upstream failed)
    blocked: str = ""  # staff's reason, when blocked
    error: str = ""  # the upstream failed and there is no copy


def _absent_key(normalized: str) -> str:
    return f"proxy:absent:{normalized}"


def is_fresh(fetched_at: datetime | None) -> bool:
    """Whether a copy fetched then may be served without asking the upstream again."""
    return (
        fetched_at is not None
        and (timezone.now() - fetched_at).total_seconds() < settings.UPSTREAM_PAGE_TTL
    )


def _is_fresh(state: UpstreamProject) -> bool:
    return is_fresh(state.fetched_at)


def resolve(normalized: str, *, force: bool = False) -> Resolved:
    """Make the upstream copy of `normalized` fresh enough to serve (the caller checked that
    no local project has the name).

    1. Blocked by staff: nothing. Known absent upstream within the TTL: nothing.
    2. A copy younger than UPSTREAM_PAGE_TTL: serve it.
    3. Otherwise, under the name's lock (one fetch for many readers), revalidate or fetch.
    """
    state = UpstreamProject.objects.filter(normalized_name=normalized).first()
    if state is not None and state.blocked:
        return Resolved(blocked=state.block_reason or "blocked by the index's staff")
    if not force:
        if state is not None and state.project_id and _is_fresh(state):
            metrics.PROXY_PAGES.labels(result="fresh").inc()
            return Resolved(project=state.project)
        if (state is None or not state.project_id) and cache.get(_absent_key(normalized)):
            metrics.PROXY_PAGES.labels(result="absent").inc()
            return Resolved()
    with fill_lock("page", normalized):
        state = UpstreamProject.objects.filter(normalized_name=normalized).first()
        if not force and state is not None and state.project_id and _is_fresh(state):
            metrics.PROXY_PAGES.labels(result="fresh").inc()
            return Resolved(project=state.project)
        return _fetch(normalized, state)


def _fetch(normalized: str, state: UpstreamProject | None) -> Resolved:
    project = state.project if state is not None else None
    try:
        page = upstream.fetch_page(
            normalized,
            etag=state.etag if project else "",
            last_modified=state.last_modified if project else "",
        )
    except upstream.ProjectAbsent:
        cache.set(_absent_key(normalized), True, settings.UPSTREAM_PAGE_TTL)
        if state is not None:
            UpstreamProject.objects.filter(pk=state.pk).update(seen_upstream_at=None)
        if project is not None:
            purge(state=state, action="upstream no longer lists it")
        metrics.PROXY_PAGES.labels(result="absent").inc()
        return Resolved()
    except upstream.UpstreamError as exc:
        metrics.PROXY_PAGES.labels(result="error").inc()
        logger.warning("Upstream fetch of %s failed: %s", normalized, exc)
        if state is not None:
            UpstreamProject.objects.filter(pk=state.pk).update(
                last_error=str(exc)[:2000],
                last_error_at=timezone.now(),
                error_count=state.error_count + 1,
            )
        if project is not None:
            return Resolved(project=project, stale=str(exc)[:200])
        return Resolved(error=str(exc))
    if page is None:
        metrics.PROXY_PAGES.labels(result="not-modified").inc()
        UpstreamProject.objects.filter(pk=state.pk).update(
            fetched_at=timezone.now(), last_error="", error_count=0
        )
        return Resolved(project=project)
    cache.delete(_absent_key(normalized))
    try:
        project = sync_page(normalized, page, state=state)
    except _LocalProjectExists:
        return Resolved()
    metrics.PROXY_PAGES.labels(result="fetched").inc()
    return Resolved(project=project)


class _LocalProjectExists(Exception):
    pass


@transaction.atomic
def sync_page(normalized: str, page: upstream.Page, *, state: UpstreamProject | None) -> Project:
    """Make the upstream project's rows say what `page` lists: new files and releases added,
    yank and metadata changes applied, files the upstream dropped removed. One journal entry
    when anything changed."""
    project = state.project if state is not None else None
    created = project is None
    if project is None:
        try:
            with transaction.atomic():
                project = Project.objects.create(
                    name=page.name,
                    normalized_name=normalized,
                    ultranormalized_name=ultranormalize_name(page.name),
                    origin=Origin.UPSTREAM,
                )
        except IntegrityError:
            # An upload created a local project under this name meanwhile: it wins.
            raise _LocalProjectExists(normalized) from None
    releases = {r.canonical_version: r for r in Release.objects.filter(project=project)}
    existing = {
        f.filename: f
        for f in File.objects.filter(release__project=project).select_related("release")
    }
    listed = {f.filename: f for f in page.files}
    # Bytes or names another project already has (a legacy name clash) are left out.
    new = [f for name, f in listed.items() if name not in existing]
    others = File.objects.exclude(release__project=project)
    taken_names = set(
        others.filter(filename__in=[f.filename for f in new]).values_list("filename", flat=True)
    )
    taken_digests = set(
        others.filter(sha256_digest__in=[f.sha256 for f in new]).values_list(
            "sha256_digest", flat=True
        )
    )
    added, changed, removed = 0, 0, 0
    sdist_versions = {
        f.release.canonical_version for f in existing.values() if f.packagetype == PackageType.SDIST
    }
    new_releases: dict[str, Release] = {}
    new_files: list[tuple[File, str, datetime | None]] = []
    for filename, entry in listed.items():
        parsed = parse_filename(filename)
        version = str(parsed.version)
        canonical = canonical_version(version)
        if filename in existing:
            changed += _update_file(existing[filename], entry)
            continue
        if filename in taken_names or entry.sha256 in taken_digests:
            continue
        if not parsed.is_wheel and canonical in sdist_versions:
            continue  # one sdist per release, as PyPI (a legacy .zip beside the .tar.gz)
        if not parsed.is_wheel:
            sdist_versions.add(canonical)
        taken_digests.add(entry.sha256)
        if canonical not in releases and canonical not in new_releases:
            new_releases[canonical] = Release(
                project=project,
                version=version,
                canonical_version=canonical,
                is_prerelease=parsed.version.is_prerelease,
                requires_python=entry.requires_python,
                uploaded_via="proxy",
            )
        file = File(
            filename=filename,
            path=storage_path(blake2_256=entry.sha256, filename=filename),
            size=entry.size or 0,
            md5_digest="",
            sha256_digest=entry.sha256,
            blake2_256_digest=None,
            packagetype=PackageType.WHEEL if parsed.is_wheel else PackageType.SDIST,
            python_version=filename.split("-")[-3] if parsed.is_wheel else "source",
            uploaded_via="proxy",
            metadata_sha256=entry.metadata_sha256,
            upstream_url=entry.url,
            upstream_upload_time=entry.upload_time,
        )
        new_files.append((file, canonical, entry.upload_time))
    # A few statements whatever the size of the project (a first fetch may list thousands).
    Release.objects.bulk_create(new_releases.values(), batch_size=500)
    releases.update(new_releases)
    for file, canonical, _time in new_files:
        file.release = releases[canonical]
    File.objects.bulk_create([f for f, _c, _t in new_files], batch_size=500)
    # upload_time is auto_now_add: the upstream's time goes in after the insert.
    now = timezone.now()
    for file, _canonical, upload_time in new_files:
        file.upload_time = upload_time or now
    File.objects.bulk_update([f for f, _c, _t in new_files], ["upload_time"], batch_size=500)
    # A new release dates from its first upload upstream (the point-in-time view reads it).
    for release in new_releases.values():
        times = [t for f, c, t in new_files if c == release.canonical_version and t is not None]
        release.created = min(times, default=now)
    Release.objects.bulk_update(new_releases.values(), ["created"], batch_size=500)
    added = len(new_files)
    gone = [f for name, f in existing.items() if name not in listed]
    for file in gone:
        file.delete()
        removed += 1
    _delete_objects_after_commit(gone)
    _apply_release_state(project, listed)
    if added or changed or removed or created:
        _reorder(project)
        total = File.objects.filter(release__project=project).aggregate(s=Sum("size"))["s"] or 0
        Project.objects.filter(pk=project.pk).update(total_size=total)
        record_change(
            project=project,
            action=(
                f"cache from upstream: {added} files added, {changed} changed, {removed} removed"
            ),
        )
    UpstreamProject.objects.update_or_create(
        normalized_name=normalized,
        defaults={
            "project": project,
            "fetched_at": timezone.now(),
            "etag": page.etag,
            "last_modified": page.last_modified,
            "upstream_serial": page.serial,
            "seen_upstream_at": timezone.now(),
            "last_error": "",
            "error_count": 0,
        },
    )
    return project


def _update_file(file: File, entry: upstream.ListedFile) -> int:
    fields = {}
    if file.sha256_digest != entry.sha256:
        # The upstream now lists other bytes under this name: forget what was fetched.
        fields.update(sha256_digest=entry.sha256, blake2_256_digest=None, md5_digest="")
        fields["path"] = storage_path(blake2_256=entry.sha256, filename=file.filename)
        _delete_objects_after_commit([file])
    if file.metadata_sha256 != entry.metadata_sha256:
        fields["metadata_sha256"] = entry.metadata_sha256
    if file.upstream_url != entry.url:
        fields["upstream_url"] = entry.url
    if entry.size is not None and file.size != entry.size:
        fields["size"] = entry.size
    if fields:
        File.objects.filter(pk=file.pk).update(**fields)
    return 1 if set(fields) - {"upstream_url"} else 0


def _apply_release_state(project: Project, listed: dict[str, upstream.ListedFile]) -> None:
    """A release is yanked when every file the upstream lists for it is (PEP 592 yanks whole
    releases on the public index); releases left without files go."""
    by_release: dict[str, list[upstream.ListedFile]] = {}
    for filename, entry in listed.items():
        version = canonical_version(str(parse_filename(filename).version))
        by_release.setdefault(version, []).append(entry)
    with_files = set(
        File.objects.filter(release__project=project).values_list("release_id", flat=True)
    )
    for release in Release.objects.filter(project=project):
        entries = by_release.get(release.canonical_version)
        if not entries or release.pk not in with_files:
            release.delete()
            continue
        yanked = all(e.yanked for e in entries)
        reason = next((e.yanked_reason for e in entries if e.yanked_reason), "") if yanked else ""
        if (release.yanked, release.yanked_reason) != (yanked, reason):
            # Through the one writer, so the point-in-time view can undo it at earlier moments.
            set_yank_state(release=release, yanked=yanked, reason=reason)


def _reorder(project: Project) -> None:
    releases = list(Release.objects.filter(project=project).only("id", "version", "sort_order"))
    releases.sort(key=lambda r: Version(r.version))
    for position, release in enumerate(releases):
        release.sort_order = position
    Release.objects.bulk_update(releases, ["sort_order"], batch_size=500)


def _delete_objects_after_commit(files: list[File]) -> None:
    keys = [key for f in files for key in (f.path, f.metadata_path if f.metadata_sha256 else "")]

    def delete() -> None:
        storage = storages["default"]
        for key in keys:
            if key:
                storage.delete(key)

    if keys:
        transaction.on_commit(delete)


@transaction.atomic
def purge(*, state: UpstreamProject, action: str = "purged by staff") -> bool:
    """Forget an upstream project: its rows and cached bytes go (journaled), the state row
    stays (with its block, if any) and the next reader fetches it afresh. False if there was
    no copy."""
    project = state.project
    state.fetched_at = None
    state.etag = state.last_modified = ""
    state.project = None
    state.save()
    cache.delete(_absent_key(state.normalized_name))
    if project is None or not project.is_upstream:
        return False
    files = list(File.objects.filter(release__project=project))
    record_change(project=project, action=f"purge upstream cache: {action}")
    project.delete()
    _delete_objects_after_commit(files)
    return True


def block(*, normalized_name: str, reason: str) -> UpstreamProject:
    state, _ = UpstreamProject.objects.get_or_create(normalized_name=normalized_name)
    state.blocked = True
    state.block_reason = reason
    state.save()
    purge(state=state, action=f"blocked: {reason}")
    return state


def check_local_name(normalized: str) -> bool:
    """Ask the upstream whether it lists a name that is a local project, and record the answer
    on the name's state row (created only when the upstream has it). Never syncs rows: the
    local project stays local. Raises upstream.UpstreamError."""
    try:
        upstream.fetch_page(normalized)
    except upstream.ProjectAbsent:
        UpstreamProject.objects.filter(normalized_name=normalized).update(seen_upstream_at=None)
        return False
    UpstreamProject.objects.update_or_create(
        normalized_name=normalized, defaults={"seen_upstream_at": timezone.now()}
    )
    return True
