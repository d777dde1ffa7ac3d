"""Static simple pages: a project's PEP 503 HTML and PEP 691 JSON pages, and the root, kept in
storage so that a plain web server (deploy/nginx/) or the bucket serves `/simple/` while no app
server runs.

Pages are rendered by `packages.simple`, the code the views use, and published as page sets
(`packages.storage`): under `simple/<name>/` (and `simple/_root/` for the root, also reachable
as `simple/index.html`) the files

    index.html       text/html                                  (and index.html.gz)
    index.v1_html    application/vnd.pypi.simple.v1+html, same bytes (and .gz)
    index.v1_json    application/vnd.pypi.simple.v1+json       (and .gz)

A set's version is `<serial>.<md5 of the HTML>.<md5 of the JSON>`: the serial for
X-PyPI-Last-Serial and the ETags the app sends for the same bytes. The root's two hashes are
its ETags as packages/root.py derives them (from the serial, not the bytes: the root is
streamed, never held whole), so they too are the ones the app sends.

Writers of one page set take a lock and never replace a newer serial with an older one, so jobs
that run out of order or twice leave the newest pages.
"""

from __future__ import annotations

import fcntl
import functools
import gzip
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.core.files.storage import FileSystemStorage, storages
from django.db import connection, transaction

from packages import permissions, root, simple
from packages.models import File, JournalEntry, Project
from packages.storage import (
    PAGES_PREFIX,
    PageFile,
    ensure_alias,
    has_marker,
    page_set_version,
    publish_page_set,
    remove_page_set,
    set_marker,
)
from pypi_site.locks import advisory_xact_lock, file_lock

ROOT = "_root"  # Not a normalized project name (no underscores), so never a project's set.
FORMATS = (
    ("index.html", simple.HTML),
    ("index.v1_html", simple.V1_HTML),
    ("index.v1_json", simple.V1_JSON),
)
# HTML is rendered once: the v1+html page has the same bytes under another Content-Type.
_RENDERED = (simple.HTML, simple.V1_JSON)
PAGE_NAMES = [name for base, _fmt in FORMATS for name in (base, f"{base}.gz")]
# Local storage: an empty file here for each stored object nginx must not serve (the files of
# a quarantined project), deploy/nginx/index.conf checks it before serving /packages/.
HIDDEN_PREFIX = f"{PAGES_PREFIX}/.quarantined"
# PostgreSQL advisory lock namespace for page writers (two-int form; any unused constant).
_PAGE_LOCKS = 0x5354_4154

WRITTEN, UNCHANGED, REMOVED, ABSENT = "written", "unchanged", "removed", "absent"


def project_key(normalized_name: str) -> str:
    return f"{PAGES_PREFIX}/{normalized_name}"


def stored_serial(version: str | None) -> int:
    return int(version.split(".", 1)[0]) if version else -1


def publish_project(*, normalized_name: str, force: bool = False) -> str:
    """Write (or remove, for a deleted project) one project's pages.

    1. Under the page set's lock, load the project as the view does; gone, private or mirrored
       from upstream: remove its pages (a private project is never published; the app serves
       it to its readers).
    2. Unless `force`, stop if the stored serial is already this one or newer.
    3. Render both formats with `packages.simple`, gzip each, publish the set.
    4. Local storage: hide a quarantined or private project's files from nginx, unhide them
       once lifted; hide deleted files (kept for the point-in-time view) for good.
    """
    key = project_key(normalized_name)
    with _page_lock(normalized_name):
        project = (
            Project.objects.filter(normalized_name=normalized_name)
            .only(
                "id",
                "name",
                "normalized_name",
                "last_serial",
                "lifecycle_status",
                "origin",
                "is_private",
            )
            .first()
        )
        _hide_deleted_files(normalized_name)
        if project is None or project.is_upstream or project.is_private:
            # A mirrored upstream project is revalidated and filtered by release age on each
            # request (proxy/), so nginx must hand its pages to the app.
            if project is not None and project.is_private:
                _hide_files(project)
            return REMOVED if remove_page_set(key=key, names=PAGE_NAMES) else ABSENT
        stored = stored_serial(page_set_version(key=key))
        if stored > project.last_serial or (stored == project.last_serial and not force):
            return UNCHANGED
        files = simple.project_files(project, files_url=settings.FILES_BASE_URL)
        bodies = {fmt: simple.render_detail(project, files, fmt=fmt) for fmt in _RENDERED}
        written = _publish(key=key, serial=project.last_serial, bodies=bodies)
        _hide_files(project)
    return WRITTEN if written else UNCHANGED


def publish_root(*, force: bool = False) -> str:
    """Write the `/simple/` root, as the view streams it, with the journal's last serial.

    Every change calls this, and one write of the root is tens of megabytes, so writes are
    coalesced: a caller that finds another writing returns at once, and the writer, once done,
    looks at the serial again and writes once more if it moved. Whoever commits a change
    enqueues this after the commit, so either its try finds the lock free or the holder's
    second look (after releasing) sees its serial. `force` (write_static_simple) re-renders
    every segment and waits for the lock.
    """
    if force:
        root.rebuild_segments()
        with _root_lock(wait=True):
            return _write_root(force=True)
    outcome = UNCHANGED
    while True:
        with _root_lock(wait=False) as held:
            if not held:
                return outcome
            written = _write_root(force=False)
            outcome = WRITTEN if written == WRITTEN else outcome
        if (
            stored_serial(page_set_version(key=project_key(ROOT)))
            >= JournalEntry.objects.last_serial()
        ):
            return outcome


def _write_root(*, force: bool) -> str:
    """1. Stop if the stored root is at the journal's serial (unless `force`).
    2. Bring the root's segments up to it (packages/root.py: only changed prefixes).
    3. Publish the page set, each file streamed from the segments (bounded memory); the
       version carries the ETags the view sends."""
    key = project_key(ROOT)
    serial = JournalEntry.objects.last_serial()
    stored = stored_serial(page_set_version(key=key))
    if stored > serial or (stored == serial and not force):
        return UNCHANGED
    root.refresh_segments(serial=serial)
    access = permissions.PUBLIC_SCOPE.access_class
    html_etag = root.root_etag(serial=serial, fmt=simple.HTML, access=access)
    json_etag = root.root_etag(serial=serial, fmt=simple.V1_JSON, access=access)
    pages = []
    for name, fmt in FORMATS:
        for gzipped in (False, True):
            pages.append(
                PageFile(
                    name=f"{name}.gz" if gzipped else name,
                    body=b"",
                    content_type="application/gzip" if gzipped else fmt,
                    chunks=functools.partial(
                        root.stream_root, serial=serial, fmt=fmt, gzipped=gzipped
                    ),
                )
            )
    written = publish_page_set(key=key, version=f"{serial}.{html_etag}.{json_etag}", pages=pages)
    for name in PAGE_NAMES:
        ensure_alias(key=f"{PAGES_PREFIX}/{name}", target=f"{ROOT}/{name}")
    return WRITTEN if written else UNCHANGED


@contextmanager
def _root_lock(*, wait: bool) -> Iterator[bool]:
    """The root's writer lock: True once held; without `wait`, False at once if taken. On
    PostgreSQL a session lock, not a transaction's: the segment refresh inside commits on its
    own, so readers waiting for it are not held up for the whole write."""
    if connection.vendor == "postgresql":
        function = "pg_advisory_lock" if wait else "pg_try_advisory_lock"
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {function}(%s, hashtext(%s))", [_PAGE_LOCKS, ROOT])
            held = wait or cursor.fetchone()[0]
        try:
            yield held
        finally:
            if held:
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT pg_advisory_unlock(%s, hashtext(%s))", [_PAGE_LOCKS, ROOT]
                    )
        return
    with open(Path(settings.DATA_DIR) / "static-pages-root.lock", "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def published_names() -> Iterator[str]:
    """Names of the projects that have a page set (local storage; S3 lists no folders cheaply,
    and its sets of deleted projects are removed by the job that deletes them)."""
    storage = storages["default"]
    if not isinstance(storage, FileSystemStorage):
        return
    folder = Path(storage.path(PAGES_PREFIX))
    if not folder.is_dir():
        return
    for entry in sorted(folder.iterdir()):
        if entry.is_symlink() and not entry.name.startswith((".", "_", "index.")):
            yield entry.name


def _publish(*, key: str, serial: int, bodies: dict[str, bytes]) -> bool:
    html, json_ = bodies[simple.HTML], bodies[simple.V1_JSON]
    version = f"{serial}.{_md5(html)}.{_md5(json_)}"
    pages = []
    for name, fmt in FORMATS:
        body = json_ if fmt == simple.V1_JSON else html
        pages.append(PageFile(name=name, body=body, content_type=fmt))
        # mtime=0: the same bytes give the same .gz, whoever writes them.
        packed = gzip.compress(body, compresslevel=9, mtime=0)
        pages.append(PageFile(name=f"{name}.gz", body=packed, content_type="application/gzip"))
    return publish_page_set(key=key, version=version, pages=pages)


def _md5(body: bytes) -> str:
    # The ETag the app sends for these bytes (packages/responses.py), without its quotes.
    return hashlib.md5(body, usedforsecurity=False).hexdigest()


def _hide_files(project: Project) -> None:
    """Markers exist exactly while the project is quarantined or private. Checking one file's
    marker first keeps an ordinary upload to a large project from touching every file."""
    paths = list(
        File.objects.filter(release__project_id=project.pk)
        .order_by("pk")
        .values_list("path", "metadata_sha256")
    )
    if not paths:
        return
    hidden = project.is_quarantined or project.is_private
    if not hidden and not has_marker(key=_marker(paths[0][0])):
        return
    for path, metadata_sha256 in paths:
        set_marker(key=_marker(path), present=hidden)
        if metadata_sha256:
            set_marker(key=_marker(f"{path}.metadata"), present=hidden)


def _hide_deleted_files(normalized_name: str) -> None:
    """A deleted file keeps its bytes (packages/history.py) but must 404 at its live URL, which
    nginx would serve from disk: a marker sends it to the app, which refuses it. Markers stay
    after a purge (the app answers 404 either way)."""
    deleted = File.all_objects.filter(
        release__project__normalized_name=normalized_name, deleted_at__isnull=False
    ).values_list("path", "metadata_sha256")
    for path, metadata_sha256 in deleted:
        for key in (path, f"{path}.metadata" if metadata_sha256 else None):
            if key and not has_marker(key=_marker(key)):
                set_marker(key=_marker(key), present=True)


def _marker(path: str) -> str:
    return f"{HIDDEN_PREFIX}/{path}"


@contextmanager
def _page_lock(name: str) -> Iterator[None]:
    """One writer per page set: a PostgreSQL advisory lock (every app server and worker shares
    the database), or with SQLite (one machine) a file lock."""
    if connection.vendor == "postgresql":
        with transaction.atomic():
            advisory_xact_lock(_PAGE_LOCKS, name)
            yield
        return
    with file_lock(Path(settings.DATA_DIR) / "static-pages.lock"):
        yield
