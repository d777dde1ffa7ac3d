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
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import BooleanField, ExpressionWrapper, F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from packages import simple
from packages.api import NotFound, render_project_json
from packages.models import Project, StoredDocument
from packages.responses import RENDER_VERSION, RenderedPage, pack_page

logger = logging.getLogger(__name__)

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


def store(
    *, project_id: int, kind: str, serial: int, plain: RenderedPage, packed: RenderedPage
) -> None:
    """Insert or replace the stored copy, never with an older serial: jobs may run twice and
    out of order, and a reader may store what it rendered while a job stores a newer one."""
    table = StoredDocument._meta.db_table
    gzip_body = packed.body if packed.gzipped else None
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} "
            "(project_id, kind, serial, version, etag, body, gzip_body, rendered_at) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (project_id, kind) DO UPDATE SET serial = excluded.serial, "
            "version = excluded.version, etag = excluded.etag, body = excluded.body, "
            "gzip_body = excluded.gzip_body, rendered_at = excluded.rendered_at "
            f"WHERE {table}.serial < excluded.serial "
            f"OR ({table}.serial = excluded.serial AND {table}.version <> excluded.version)",
            [
                project_id,
                kind,
                serial,
                document_version(),
                plain.etag,
                plain.body,
                gzip_body,
                timezone.now(),
            ],
        )


def load(project: Project, kind: str, *, gzip_ok: bool, content_type: str) -> RenderedPage | None:
    """The stored copy at the project's last serial, as the client wants it; one indexed
    query that moves only that form's bytes. None when there is no current copy."""
    current = StoredDocument.objects.filter(
        project_id=project.pk, kind=kind, serial=project.last_serial, version=document_version()
    )
    if gzip_ok:
        # A body too small to compress has no gzip form: then the plain one.
        current = current.annotate(
            wanted=Coalesce("gzip_body", "body"),
            gzipped=ExpressionWrapper(Q(gzip_body__isnull=False), output_field=BooleanField()),
        )
    else:
        current = current.annotate(wanted=F("body"), gzipped=Value(False))
    # Not .first(): the unique (project, kind) makes its ORDER BY needless work.
    rows = list(current.values_list("etag", "wanted", "gzipped")[:1])
    if not rows:
        return None
    etag, body, gzipped = rows[0]
    return RenderedPage(
        body=bytes(body), etag=etag, content_type=content_type, gzipped=bool(gzipped)
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
        except DatabaseError:
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


def render_project(*, normalized_name: str, force: bool = False) -> dict[str, str]:
    """Render and store each of the project's documents that is not current (all of them with
    `force`). Returns what happened to each kind: written, unchanged or skipped."""
    project = Project.objects.filter(normalized_name=normalized_name).first()
    if project is None:
        return {}
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


WRITTEN, UNCHANGED, SKIPPED = "written", "unchanged", "skipped"


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
