"""Stored documents: each project's simple pages and JSON API document, rendered when the
project changes and kept in the database, so no read renders them.

`publishing.publish_change` (the job every journaled change enqueues) calls `render_project`.
The views serve a stored copy only while its serial is the project's last serial, so a read
right after a write never sees the page from before it: until the job has run, the view renders
as it always did, and stores what it rendered for the next reader.

What is stored is the canonical variant, the one nearly every reader gets: the public body
with FILES_BASE_URL's file URLs and no file held back by the release-age policy (the JSON API:
the project document, not a version's). A private project's documents are stored too; the views
ask permissions before they look here, and serve them with the private access class, as the
rendered pages. Other variants are rendered on request, as before.

A large document (identity body over responses.LARGE_PAGE_BYTES) is stored as two objects in
the default storage instead of in its row, under immutable content-addressed keys (`object_key`),
and the row keeps their keys. Reading megabytes from a bytea column is what made a cold read of
a large project slow: PostgreSQL detoasts the value and sends it hex-encoded (twice its size),
and the driver decodes it again: 27-40 ms for a 3.7 MB gzip body, 150 ms for an 18 MB identity
one. From storage the row query stays small and the file is streamed (sendfile on local storage).
The objects are written before the row names them; the ones a newer row replaces are deleted
after it is committed. A reader who finds an object gone (replaced meanwhile) renders, as with no
copy; an object left behind by a writer that lost a race is removed by `render_pages --prune`.
"""

from __future__ import annotations

import hashlib
import io
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.core.files.storage import storages
from django.db import DatabaseError, connection, transaction
from django.db.models import BooleanField, ExpressionWrapper, F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from packages import simple
from packages.api import NotFound, render_project_json
from packages.lookups import PROJECT_BY_NAME
from packages.models import Project, StoredDocument
from packages.responses import LARGE_PAGE_BYTES, RENDER_VERSION, RenderedPage, pack_page
from packages.storage import (
    DOCUMENTS_PREFIX,
    StorageError,
    StoredObject,
    open_object,
    store_all_verified,
)
from pypi_site.prepared import PreparedQuery

logger = logging.getLogger(__name__)

# A writer stores its objects moments before its row names them: younger ones are not orphans.
PRUNE_MIN_AGE = timedelta(hours=1)

Kind = StoredDocument.Kind
JSON_API = "application/json"


def kind_of_simple(fmt: str) -> str:
    """Both HTML content types share one body (only the Content-Type header differs)."""
    return Kind.SIMPLE_JSON if fmt == simple.V1_JSON else Kind.SIMPLE_HTML


def document_version() -> str:
    """What a stored body depends on besides the project: the render code and the URLs in it.
    A deploy that changes either leaves every stored copy unserved until re-rendered."""
    parts = f"{RENDER_VERSION}|{settings.FILES_BASE_URL}|{settings.SITE_URL}"
    return hashlib.sha256(parts.encode()).hexdigest()[:16]


def render(project: Project, kind: str) -> bytes:
    """The canonical body of `kind`, from the same functions the views render with. Raises
    api.NotFound for the JSON API of a project with no release."""
    if kind == Kind.JSON_API:
        return render_project_json(
            project,
            version=None,
            base_url=settings.SITE_URL,
            files_url=settings.FILES_BASE_URL,
        )
    files = simple.project_files(project, files_url=settings.FILES_BASE_URL)
    fmt = simple.V1_JSON if kind == Kind.SIMPLE_JSON else simple.HTML
    return simple.render_detail(project, files, fmt=fmt)


def object_key(*, project_id: int, kind: str, etag: str, gzipped: bool) -> str:
    """Where one form of a large document lives: named by its content (the ETag, the md5 of the
    identity body), so an object never changes once written."""
    digest = etag.strip('"')
    return f"{DOCUMENTS_PREFIX}/{project_id}/{kind}/{digest}{'.gz' if gzipped else ''}"


def store(
    *, project_id: int, kind: str, serial: int, plain: RenderedPage, packed: RenderedPage
) -> None:
    """Insert or replace the stored copy, never with an older serial: jobs may run twice and
    out of order, and a reader may store what it rendered while a job stores a newer one.
    A large document's forms go to storage first; afterwards, whichever objects no row names
    any more (the replaced copy's, or ours if a newer copy won) are deleted."""
    body, gzip_body = plain.body, (packed.body if packed.gzipped else None)
    body_key = gzip_key = None
    if plain.size > LARGE_PAGE_BYTES:
        body_key = object_key(project_id=project_id, kind=kind, etag=plain.etag, gzipped=False)
        forms = [(body_key, body)]
        if gzip_body is not None:
            gzip_key = object_key(project_id=project_id, kind=kind, etag=plain.etag, gzipped=True)
            forms.append((gzip_key, gzip_body))
        store_all_verified(
            [
                StoredObject(
                    key=key,
                    body=io.BytesIO(data),
                    size=len(data),
                    sha256=hashlib.sha256(data).hexdigest(),
                )
                for key, data in forms
            ]
        )
        body, gzip_body = b"", None
    table = StoredDocument._meta.db_table
    with transaction.atomic():
        # Locked, so that the keys read here are the ones this write replaces.
        before = set(_keys(StoredDocument.objects.select_for_update(), project_id, kind))
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (project_id, kind, serial, version, etag, body, "
                "gzip_body, body_key, gzip_key, rendered_at) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (project_id, kind) DO UPDATE SET serial = excluded.serial, "
                "version = excluded.version, etag = excluded.etag, body = excluded.body, "
                "gzip_body = excluded.gzip_body, body_key = excluded.body_key, "
                "gzip_key = excluded.gzip_key, rendered_at = excluded.rendered_at "
                f"WHERE {table}.serial < excluded.serial "
                f"OR ({table}.serial = excluded.serial AND {table}.version <> excluded.version)",
                [
                    project_id,
                    kind,
                    serial,
                    document_version(),
                    plain.etag,
                    body,
                    gzip_body,
                    body_key,
                    gzip_key,
                    timezone.now(),
                ],
            )
        after = set(_keys(StoredDocument.objects, project_id, kind))
        unused = (before | {body_key, gzip_key}) - after - {None}
        if unused:
            transaction.on_commit(lambda: delete_objects(unused))


def _keys(rows, project_id: int, kind: str) -> Iterator[str | None]:
    for pair in rows.filter(project_id=project_id, kind=kind).values_list("body_key", "gzip_key"):
        yield from pair


def delete_objects(keys) -> None:
    """Remove objects no row names. A failure only leaves an orphan for `prune_objects`."""
    storage = storages["default"]
    for key in sorted(keys):
        try:
            storage.delete(key)
        except Exception:
            logger.warning("Could not delete the stored document %s", key, exc_info=True)


def prune_objects(*, dry_run: bool = False) -> Iterator[str]:
    """Delete (or with `dry_run` only name) every object under DOCUMENTS_PREFIX that no row
    names: left by a writer that lost a race or failed to delete what it replaced. Young
    objects are spared, as a writer stores them just before its row names them."""
    storage = storages["default"]
    cutoff = timezone.now() - PRUNE_MIN_AGE
    # Read once (one row per large document): an object named after this is younger than
    # the cutoff, so it is spared anyway.
    named = set()
    for pair in StoredDocument.objects.filter(body_key__isnull=False).values_list(
        "body_key", "gzip_key"
    ):
        named.update(pair)
    for key in _document_object_keys(storage, DOCUMENTS_PREFIX):
        if key in named:
            continue
        try:
            modified = storage.get_modified_time(key)
        except (NotImplementedError, OSError):
            modified = None
        if modified is not None and modified > cutoff:
            continue
        if not dry_run:
            delete_objects([key])
        yield key


def _document_object_keys(storage, directory: str) -> Iterator[str]:
    try:
        directories, files = storage.listdir(directory)
    except FileNotFoundError:
        return
    # Temporary names a crashed writer left (storage.py's `.tmp-`) count too: none is named.
    for name in sorted(files):
        yield f"{directory}/{name}"
    for name in sorted(directories):
        yield from _document_object_keys(storage, f"{directory}/{name}")


def _current_copy(*, gzip_ok: bool) -> PreparedQuery:
    """The stored copy at a serial, as (etag, body, object key, gzipped): the form the client
    wants, and only that one's bytes (none for a large document: only its key)."""

    def build(project_id: int, kind: str, serial: int, version: str):
        current = StoredDocument.objects.filter(
            project_id=project_id, kind=kind, serial=serial, version=version
        )
        if gzip_ok:
            # A body too small to compress has no gzip form: then the plain one.
            gzip_form = Q(gzip_body__isnull=False) | Q(gzip_key__isnull=False)
            current = current.annotate(
                wanted=Coalesce("gzip_body", "body"),
                wanted_key=Coalesce("gzip_key", "body_key"),
                gzipped=ExpressionWrapper(gzip_form, output_field=BooleanField()),
            )
        else:
            current = current.annotate(
                wanted=F("body"), wanted_key=F("body_key"), gzipped=Value(False)
            )
        # Not .first(): the unique (project, kind) makes its ORDER BY needless work.
        return current.values_list("etag", "wanted", "wanted_key", "gzipped")[:1]

    return PreparedQuery(build, project_id=int, kind=str, serial=int, version=str)


_CURRENT_COPY = {gzip_ok: _current_copy(gzip_ok=gzip_ok) for gzip_ok in (True, False)}


def load(project: Project, kind: str, *, gzip_ok: bool, content_type: str) -> RenderedPage | None:
    """The stored copy at the project's last serial, as the client wants it; one indexed
    query, then for a large document its object opened. None when there is no current copy,
    or its object is gone."""
    row = _CURRENT_COPY[gzip_ok].first(
        project_id=project.pk, kind=kind, serial=project.last_serial, version=document_version()
    )
    if row is None:
        return None
    etag, body, key, gzipped = row
    file = None
    if key is not None:
        file = open_object(key)
        if file is None:
            return None  # Replaced and deleted since the row was read: render.
        body = b""
    return RenderedPage(
        body=bytes(body),
        etag=etag,
        content_type=content_type,
        gzipped=bool(gzipped),
        file=file,
    )


@dataclass(frozen=True)
class StoredSource:
    """The stored-document tier of responses.rendered_page for one project's document."""

    project: Project
    kind: str
    content_type: str

    def load(self, *, gzip_ok: bool) -> RenderedPage | None:
        return load(self.project, self.kind, gzip_ok=gzip_ok, content_type=self.content_type)

    def save(self, plain: RenderedPage, packed: RenderedPage) -> None:
        """Keep what a reader had to render. A failure costs the next reader a render, so it
        must not fail this read (a savepoint keeps the request's transaction usable)."""
        try:
            with transaction.atomic():
                store(
                    project_id=self.project.pk,
                    kind=self.kind,
                    serial=self.project.last_serial,
                    plain=plain,
                    packed=packed,
                )
        except (DatabaseError, StorageError):
            logger.warning("Could not store %s of project %s", self.kind, self.project.pk)


def stored_source(
    project: Project,
    *,
    kind: str,
    content_type: str,
    hidden: frozenset[int],
    version: str | None = None,
) -> StoredSource | None:
    """The stored-copy tier for a read of the canonical variant; None for the others (files
    the release-age policy hides, one version's JSON API document), rendered on request."""
    if hidden or version is not None:
        return None
    return StoredSource(project, kind, content_type)


def render_project(
    *, normalized_name: str, force: bool = False, not_within: timedelta | None = None
) -> dict[str, str]:
    """Render and store each of the project's documents that is not current (all of them with
    `force`). Returns what happened to each kind: written, unchanged or skipped. With
    `not_within`, nothing is rendered if a copy of this project was stored that recently
    (`publishing.publish_change` in the embedded default: see there)."""
    project = PROJECT_BY_NAME.first(name=normalized_name)
    if project is None:
        return {}
    if not_within is not None and _postponed(project.pk, not_within):
        return dict.fromkeys(Kind.values, POSTPONED)
    current = set()
    if not force:
        current = set(
            StoredDocument.objects.filter(
                project_id=project.pk, serial__gte=project.last_serial, version=document_version()
            ).values_list("kind", flat=True)
        )
    outcomes = {}
    for kind in Kind.values:
        if kind in current:
            outcomes[kind] = UNCHANGED
            continue
        outcomes[kind] = _render_and_store(project, kind)
    return outcomes


WRITTEN, UNCHANGED, SKIPPED, POSTPONED = "written", "unchanged", "skipped", "postponed"


def _postponed(project_id: int, interval: timedelta) -> bool:
    """True if a copy was stored within `interval`, or another worker has already claimed this
    interval's render. Without the claim, every worker whose upload ended just after the interval
    ran out rendered at once: 13 renders of a 1,000-file project's pages in 15 s of uploads
    instead of 4, a seventh of the upload CPU. The claim is in the cache all workers share (a
    Redis cache that is down answers "added", so this worker renders, as before the claim).
    Postponing is always safe: a reader who finds no current copy renders and stores one."""
    row = _LAST_RENDERED.first(project_id=project_id)
    if row is not None and row[0] > timezone.now() - interval:
        return True
    claimed = cache.add(f"render-claim:{project_id}", 1, timeout=interval.total_seconds())
    return not claimed


# In the embedded default every upload asks this; compiled once (pypi_site/prepared.py).
_LAST_RENDERED = PreparedQuery(
    lambda project_id: (
        StoredDocument.objects.filter(project_id=project_id)
        .order_by("-rendered_at")
        .values_list("rendered_at")[:1]
    ),
    project_id=int,
)


def _render_and_store(project: Project, kind: str) -> str:
    if kind == Kind.JSON_API and project.is_quarantined:
        return SKIPPED  # The JSON API answers 404 for a quarantined project.
    try:
        body = render(project, kind)
    except NotFound:
        return SKIPPED  # No release yet: the JSON API answers 404.
    plain, packed = pack_page(body, content_type="")
    store(project_id=project.pk, kind=kind, serial=project.last_serial, plain=plain, packed=packed)
    return WRITTEN
