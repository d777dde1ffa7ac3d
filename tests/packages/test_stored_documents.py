"""Stored documents (packages/documents.py): a project's simple pages and JSON API document are
rendered when it changes and stored; a read with cold caches serves the stored copy, never one
from before the project's last change, and renders only when there is no current copy."""

from __future__ import annotations

import gzip
import json
import os
import time
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.tokens import create_api_token
from packages import api, documents, publishing, responses, simple
from packages.maintenance import orphan_keys
from packages.models import Project, Role, StoredDocument
from packages.responses import local_pages, pack_page
from packages.visibility import set_project_visibility
from tests.factories import (
    basic_auth,
    make_files,
    make_project,
    make_release,
    make_token,
    make_user,
    post_upload,
    wheel_upload,
)

pytestmark = pytest.mark.django_db

JSON = "application/vnd.pypi.simple.v1+json"
READS = {
    "simple-html": ("/simple/demo/", "text/html"),
    "simple-json": ("/simple/demo/", JSON),
    "json-api": ("/pypi/demo/json", "application/json"),
}


def cold() -> None:
    cache.clear()
    local_pages.clear()


@pytest.fixture
def upload(client, settings, django_capture_on_commit_callbacks, monkeypatch):
    """Upload and run the jobs the upload enqueued, as the embedded default does, as if each
    upload came long after the last (a burst is test_a_burst_of_uploads_...)."""
    settings.REDIS_URL = ""
    monkeypatch.setattr(publishing, "INLINE_RENDER_INTERVAL", timedelta(0))
    token = make_token(make_user())

    def send(version: str, *, run_jobs: bool = True) -> None:
        with django_capture_on_commit_callbacks(execute=run_jobs):
            assert post_upload(client, wheel_upload("demo", version), token).status_code == 200

    return send


@pytest.fixture
def no_rendering(monkeypatch):
    """Call it to make any rendering from then on fail the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("rendered on the request path")

    def start() -> None:
        monkeypatch.setattr(simple, "render_detail", refuse)
        monkeypatch.setattr("packages.views.index.render_project_json", refuse)

    return start


def stored_copy(kind: str) -> StoredDocument:
    return StoredDocument.objects.get(project__normalized_name="demo", kind=kind)


def test_a_burst_of_uploads_leaves_rendering_to_the_first_reader(client, upload, monkeypatch):
    """Inline (embedded), a project's pages are stored at most once per interval, so a burst
    of uploads into a big project does not re-render them after each one; the reader after
    the burst never gets the older copy, it renders and stores the current one."""
    monkeypatch.setattr(publishing, "INLINE_RENDER_INTERVAL", timedelta(minutes=5))
    upload("1.0")
    first = stored_copy("simple-html").serial
    upload("1.1")
    project = Project.objects.get(normalized_name="demo")
    assert project.last_serial > first
    assert stored_copy("simple-html").serial == first  # Postponed.
    cold()
    response = client.get("/simple/demo/")
    assert b"demo-1.1-py3-none-any.whl" in response.content
    assert stored_copy("simple-html").serial == project.last_serial


def test_workers_ending_uploads_at_once_render_once_per_interval(upload, monkeypatch):
    """Inline, every worker whose upload ends just after the interval ran out would render the
    same pages at once; the first to claim the interval in the shared cache renders, the
    others postpone, even before its copy is stored. The claim ends with the interval."""
    from packages import documents

    monkeypatch.setattr(publishing, "INLINE_RENDER_INTERVAL", timedelta(minutes=5))
    upload("1.0", run_jobs=False)
    project = Project.objects.get(normalized_name="demo")
    # Another worker's upload claimed the interval and is still rendering: nothing stored yet.
    assert cache.add(f"render-claim:{project.pk}", 1, timeout=300)
    assert set(
        documents.render_project(normalized_name="demo", not_within=timedelta(minutes=5)).values()
    ) == {documents.POSTPONED}
    assert not StoredDocument.objects.filter(project=project).exists()
    cache.delete(f"render-claim:{project.pk}")
    outcomes = documents.render_project(normalized_name="demo", not_within=timedelta(minutes=5))
    assert set(outcomes.values()) == {documents.WRITTEN}
    assert stored_copy("simple-html").serial == project.last_serial


def test_a_change_stores_every_document_at_the_new_serial(upload):
    upload("1.0")
    project = Project.objects.get(normalized_name="demo")
    rows = StoredDocument.objects.filter(project=project)
    assert sorted(rows.values_list("kind", "serial")) == [
        ("json-api", project.last_serial),
        ("simple-html", project.last_serial),
        ("simple-json", project.last_serial),
    ]
    html = bytes(stored_copy("simple-html").body)
    assert b"demo-1.0-py3-none-any.whl" in html
    assert json.loads(bytes(stored_copy("json-api").body))["info"]["version"] == "1.0"


@pytest.mark.parametrize("kind", READS)
def test_cold_read_serves_the_stored_copy_without_rendering(client, upload, no_rendering, kind):
    upload("1.0")
    no_rendering()
    path, accept = READS[kind]
    cold()
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path, HTTP_ACCEPT=accept)
    assert response.status_code == 200
    assert response.content == bytes(stored_copy(kind).body)
    assert response["Content-Type"] == accept
    assert len(queries) == 2  # The project, then its stored copy.


@pytest.mark.parametrize("kind", READS)
def test_conditional_and_compressed_reads_of_the_stored_copy(client, upload, no_rendering, kind):
    for version in ("1.0", "1.1", "1.2", "1.3"):
        upload(version)
    no_rendering()
    path, accept = READS[kind]
    row = stored_copy(kind)
    assert row.gzip_body is not None  # Big enough to compress.
    cold()
    response = client.get(path, HTTP_ACCEPT=accept, HTTP_IF_NONE_MATCH=row.etag)
    assert response.status_code == 304
    assert response["ETag"] == row.etag
    cold()
    packed = client.get(path, HTTP_ACCEPT=accept, HTTP_ACCEPT_ENCODING="gzip")
    assert packed["Content-Encoding"] == "gzip" and packed["ETag"] == row.etag
    assert gzip.decompress(packed.content) == bytes(row.body)
    plain = client.get(path, HTTP_ACCEPT=accept)
    assert "Content-Encoding" not in plain and plain.content == bytes(row.body)


def test_a_page_too_small_to_compress_is_sent_as_is(client, upload, no_rendering):
    upload("1.0")
    no_rendering()
    row = stored_copy("simple-html")
    assert row.gzip_body is None
    cold()
    response = client.get("/simple/demo/", HTTP_ACCEPT_ENCODING="gzip")
    assert "Content-Encoding" not in response and response.content == bytes(row.body)


def test_stored_etag_is_the_rendered_pages(client, upload):
    """Servers that rendered and servers that read the stored copy answer one ETag, so a 304
    holds across them."""
    upload("1.0")
    rendered = {kind: stored_copy(kind).etag for kind in READS}
    StoredDocument.objects.all().delete()
    for kind, (path, accept) in READS.items():
        cold()
        assert client.get(path, HTTP_ACCEPT=accept)["ETag"] == rendered[kind]


@pytest.mark.parametrize("kind", READS)
def test_a_stale_copy_is_never_served(client, upload, kind):
    """Until the job has run, the reader renders (and stores) the page at the new serial."""
    upload("1.0")
    upload("2.0", run_jobs=False)
    project = Project.objects.get(normalized_name="demo")
    assert stored_copy(kind).serial < project.last_serial
    path, accept = READS[kind]
    cold()
    response = client.get(path, HTTP_ACCEPT=accept)
    assert b"demo-2.0-py3-none-any.whl" in response.content
    assert stored_copy(kind).serial == project.last_serial
    assert bytes(stored_copy(kind).body) == response.content


def test_an_older_serial_never_replaces_a_newer_copy(upload):
    upload("1.0")
    newer = stored_copy("simple-html")
    plain, packed = pack_page(b"old page", content_type="text/html")
    documents.store(
        project_id=newer.project_id,
        kind="simple-html",
        serial=newer.serial - 1,
        plain=plain,
        packed=packed,
    )
    kept = stored_copy("simple-html")
    assert (kept.serial, bytes(kept.body)) == (newer.serial, bytes(newer.body))
    # The same serial from the same code and settings leaves it too; a newer one replaces it.
    documents.store(
        project_id=newer.project_id,
        kind="simple-html",
        serial=newer.serial,
        plain=plain,
        packed=packed,
    )
    assert bytes(stored_copy("simple-html").body) == bytes(newer.body)
    documents.store(
        project_id=newer.project_id,
        kind="simple-html",
        serial=newer.serial + 1,
        plain=plain,
        packed=packed,
    )
    assert bytes(stored_copy("simple-html").body) == b"old page"


def test_copies_stored_under_other_settings_are_not_served(client, upload, settings):
    upload("1.0")
    settings.FILES_BASE_URL = "https://files.example.test/"
    for kind, (path, accept) in READS.items():
        cold()
        body = client.get(path, HTTP_ACCEPT=accept).content
        assert b"https://files.example.test/" in body
        assert bytes(stored_copy(kind).body) == body


def test_a_version_page_is_rendered_not_stored(client, upload, no_rendering, monkeypatch):
    upload("1.0")
    no_rendering()
    monkeypatch.setattr("packages.views.index.render_project_json", api.render_project_json)
    cold()
    assert client.get("/pypi/demo/1.0/json").json()["info"]["version"] == "1.0"
    assert stored_copy("json-api").serial == Project.objects.get(name="demo").last_serial


def test_private_projects_stored_copy_is_not_served_to_outsiders(
    client, upload, settings, django_capture_on_commit_callbacks
):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    upload("1.0")
    project = Project.objects.get(normalized_name="demo")
    owner = Role.objects.get(project=project).user
    with django_capture_on_commit_callbacks(execute=True):
        set_project_visibility(project=project, private=True, user=owner)
    project.refresh_from_db()
    assert stored_copy("simple-html").serial == project.last_serial
    member = basic_auth(create_api_token(user=owner, read_only=True).plaintext)
    outsider = basic_auth(create_api_token(user=make_user("mallory"), read_only=True).plaintext)
    for kind, (path, accept) in READS.items():
        cold()
        response = client.get(path, HTTP_ACCEPT=accept, HTTP_AUTHORIZATION=member)
        assert response.status_code == 200
        assert response.content == bytes(stored_copy(kind).body)
        assert response["Cache-Control"] == "private, no-cache"
        for credentials in ({}, {"HTTP_AUTHORIZATION": outsider}):
            cold()
            response = client.get(path, HTTP_ACCEPT=accept, **credentials)
            assert response.status_code == 404
            assert b"demo-1.0" not in response.content


def test_render_pages_backfills_rows_loaded_without_journal(client, no_rendering, monkeypatch):
    make_files(make_release(make_project("demo")), 3)
    make_files(make_release(make_project("other")), 1)
    out = StringIO()
    call_command("render_pages", "--all", "--dry-run", stdout=out)
    assert out.getvalue().strip() == "Would render 2 projects."
    assert not StoredDocument.objects.exists()
    out = StringIO()
    call_command("render_pages", "--all", stdout=out, stderr=StringIO())
    assert out.getvalue().strip() == "2 projects rendered: 6 documents stored."
    no_rendering()
    for kind, (path, accept) in READS.items():
        cold()
        assert client.get(path, HTTP_ACCEPT=accept).content == bytes(stored_copy(kind).body)
    out = StringIO()
    call_command("render_pages", "--all", stdout=out, stderr=StringIO())
    assert out.getvalue().strip() == "0 projects rendered: 0 documents stored."
    monkeypatch.undo()
    out = StringIO()
    call_command("render_pages", "--project", "Demo", "--force", stdout=out, stderr=StringIO())
    assert out.getvalue().strip() == "1 project rendered: 3 documents stored."


def test_render_pages_refuses_unknown_names_and_no_selection():
    make_project("demo")
    with pytest.raises(CommandError, match="nothing-here"):
        call_command("render_pages", "--project", "nothing-here")
    with pytest.raises(CommandError, match="--all"):
        call_command("render_pages")


# --- Large documents: objects in storage ----------------------------------------------------


@pytest.fixture
def large(monkeypatch):
    """Every page over 500 bytes counts as large (a real one takes thousands of files; the
    e2e S3 test stores one of the real size)."""
    monkeypatch.setattr(documents, "LARGE_PAGE_BYTES", 500)
    monkeypatch.setattr(responses, "LARGE_PAGE_BYTES", 500)


def object_bytes(key: str) -> bytes:
    with storages["default"].open(key, "rb") as handle:
        return handle.read()


def content_of(response) -> bytes:
    return response.getvalue()


def document_objects() -> set[str]:
    root = Path(storages["default"].path("documents"))
    return {str(p.relative_to(root.parent)) for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize("kind", READS)
def test_a_large_document_is_stored_as_objects_and_served_as_is(
    client, upload, large, no_rendering, kind
):
    for version in ("1.0", "1.1", "1.2", "1.3"):
        upload(version)
    no_rendering()
    row = stored_copy(kind)
    assert (bytes(row.body), row.gzip_body) == (b"", None)
    digest = row.etag.strip('"')
    assert row.body_key == f"documents/{row.project_id}/{kind}/{digest}"
    assert row.gzip_key == f"{row.body_key}.gz"
    body = object_bytes(row.body_key)
    assert gzip.decompress(object_bytes(row.gzip_key)) == body
    assert row.etag == pack_page(body, content_type="")[0].etag
    path, accept = READS[kind]
    cold()
    with CaptureQueriesContext(connection) as queries:
        plain = client.get(path, HTTP_ACCEPT=accept)
    assert len(queries) == 2  # The project, then its stored copy's keys.
    assert plain.status_code == 200 and content_of(plain) == body
    assert plain["Content-Type"] == accept and plain["ETag"] == row.etag
    assert plain["Content-Length"] == str(len(body))
    assert "Content-Encoding" not in plain and "Content-Disposition" not in plain
    assert plain["Vary"].endswith("Accept-Encoding")
    cold()
    packed = client.get(path, HTTP_ACCEPT=accept, HTTP_ACCEPT_ENCODING="gzip")
    assert packed["Content-Encoding"] == "gzip" and packed["ETag"] == row.etag
    assert gzip.decompress(content_of(packed)) == body
    cold()
    response = client.get(path, HTTP_ACCEPT=accept, HTTP_IF_NONE_MATCH=row.etag)
    assert response.status_code == 304 and response["ETag"] == row.etag


def test_a_large_page_goes_to_neither_cache(client, upload, large, monkeypatch):
    """The stored copy serves it; a Redis round trip of megabytes would cost more."""
    for version in ("1.0", "1.1", "1.2", "1.3"):
        upload(version)
    shared = []
    monkeypatch.setattr(responses.cache, "set", lambda key, *a, **k: shared.append(key))
    monkeypatch.setattr(responses.cache, "set_many", lambda pages, *a, **k: shared.extend(pages))
    cold()
    assert client.get("/simple/demo/").status_code == 200  # From the stored objects.
    StoredDocument.objects.all().delete()
    cold()
    assert client.get("/simple/demo/").status_code == 200  # Rendered, then stored.
    assert shared == []
    assert stored_copy("simple-html").body_key is not None


def test_a_large_page_is_kept_in_the_process_and_read_from_storage_once(
    client, upload, large, no_rendering
):
    """The per-process tier costs no round trip, so a hot large page is served from memory
    like a small one (flat reads at any size); the object is read only by the first reader."""
    for version in ("1.0", "1.1", "1.2", "1.3"):
        upload(version)
    no_rendering()
    row = stored_copy("simple-html")
    cold()
    first = client.get("/simple/demo/")
    assert first.streaming is False and first.content == object_bytes(row.body_key)
    storages["default"].delete(row.body_key)
    again = client.get("/simple/demo/")
    assert again.status_code == 200 and again.content == first.content
    assert again["ETag"] == row.etag


def test_a_page_too_big_for_the_process_is_streamed_from_storage(
    client, upload, large, no_rendering, monkeypatch
):
    for version in ("1.0", "1.1", "1.2", "1.3"):
        upload(version)
    no_rendering()
    monkeypatch.setattr(responses.local_pages, "max_bytes", 8 * 400)  # Entries up to 400 bytes.
    row = stored_copy("simple-html")
    cold()
    response = client.get("/simple/demo/")
    assert response.streaming is True
    assert content_of(response) == object_bytes(row.body_key)


def test_a_very_large_page_is_sent_from_its_file_and_the_process_keeps_its_path(
    client, upload, large, monkeypatch
):
    """Past STREAM_MIN_BYTES a page on local storage is sent from its file (sendfile under
    gunicorn), never read into memory; the process remembers the path, so the next read asks
    the database only for the project. A path whose object is gone is forgotten, not an error."""
    for version in ("1.0", "1.1", "1.2", "1.3"):
        upload(version)
    monkeypatch.setattr(responses, "STREAM_MIN_BYTES", 500)
    row = stored_copy("simple-html")
    body = object_bytes(row.body_key)
    cold()
    first = client.get("/simple/demo/")
    # Streamed: a rendered page, or one read into memory, is not.
    assert first.streaming is True and content_of(first) == body
    assert first["Content-Length"] == str(len(body)) and first["ETag"] == row.etag
    [entry] = responses.local_pages.pages.values()
    assert entry.body == b"" and entry.file is None
    assert entry.path == storages["default"].path(row.body_key)
    with CaptureQueriesContext(connection) as queries:
        again = client.get("/simple/demo/")
    assert len(queries) == 1  # The project's serial; no stored-copy row.
    assert again.streaming is True and content_of(again) == body
    not_modified = client.get("/simple/demo/", HTTP_IF_NONE_MATCH=row.etag)
    assert not_modified.status_code == 304
    storages["default"].delete(row.body_key)
    gone = client.get("/simple/demo/")
    assert gone.status_code == 200 and content_of(gone) == body


def test_pages_the_process_keeps_by_path_still_count_against_its_bound():
    pages = responses._LocalPages(max_bytes=8 * responses.LOCAL_ENTRY_OVERHEAD)
    for i in range(20):
        pages.put(str(i), responses.RenderedPage(b"", '"e"', "text/html", path=f"/p/{i}"))
    assert len(pages.pages) == 8 and pages.total == 8 * responses.LOCAL_ENTRY_OVERHEAD
    pages.discard("19")
    assert "19" not in pages.pages and pages.total == 7 * responses.LOCAL_ENTRY_OVERHEAD


def test_small_documents_write_nothing_to_storage(client, upload):
    upload("1.0")
    assert all(stored_copy(kind).body_key is None for kind in READS)
    assert not Path(storages["default"].path("documents")).exists()
    cold()
    assert client.get("/simple/demo/").status_code == 200
    assert not Path(storages["default"].path("documents")).exists()


def test_a_replaced_large_documents_objects_are_deleted(upload, large):
    for version in ("1.0", "1.1", "1.2"):
        upload(version)
    before = document_objects()
    assert len(before) == 6  # Two forms of each of the three kinds.
    upload("1.3")
    after = document_objects()
    assert len(after) == 6 and not before & after
    named = {
        key for kind in READS for key in (stored_copy(kind).body_key, stored_copy(kind).gzip_key)
    }
    assert after == named


def test_a_small_copy_replacing_a_large_one_deletes_its_objects(upload, large, monkeypatch):
    upload("1.0")
    upload("1.1")
    assert document_objects()
    monkeypatch.setattr(documents, "LARGE_PAGE_BYTES", 10**9)
    upload("1.2")
    assert document_objects() == set()
    assert b"demo-1.2" in bytes(stored_copy("simple-html").body)


def test_a_copy_that_lost_to_a_newer_one_leaves_no_objects(
    upload, large, django_capture_on_commit_callbacks
):
    upload("1.0")
    upload("1.1")
    newer = stored_copy("simple-html")
    before = document_objects()
    plain, packed = pack_page(b"an older page " * 100, content_type="text/html")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        documents.store(
            project_id=newer.project_id,
            kind="simple-html",
            serial=newer.serial - 1,
            plain=plain,
            packed=packed,
        )
    assert callbacks  # Its objects were written, then found unnamed.
    assert stored_copy("simple-html").body_key == newer.body_key
    assert document_objects() == before


def test_a_missing_object_is_rendered_again_not_an_error(client, upload, large):
    for version in ("1.0", "1.1"):
        upload(version)
    row = stored_copy("simple-html")
    storages["default"].delete(row.body_key)
    cold()
    response = client.get("/simple/demo/")
    assert response.status_code == 200
    assert content_of(response) == object_bytes(row.body_key)  # Rendered, and stored again.
    assert response["ETag"] == row.etag


def test_large_private_documents_are_not_served_to_outsiders(
    client, upload, large, settings, django_capture_on_commit_callbacks
):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    upload("1.0")
    upload("1.1")
    project = Project.objects.get(normalized_name="demo")
    owner = Role.objects.get(project=project).user
    with django_capture_on_commit_callbacks(execute=True):
        set_project_visibility(project=project, private=True, user=owner)
    member = basic_auth(create_api_token(user=owner, read_only=True).plaintext)
    outsider = basic_auth(create_api_token(user=make_user("mallory"), read_only=True).plaintext)
    for kind, (path, accept) in READS.items():
        row = stored_copy(kind)
        assert row.body_key is not None
        cold()
        response = client.get(path, HTTP_ACCEPT=accept, HTTP_AUTHORIZATION=member)
        assert response.status_code == 200
        assert content_of(response) == object_bytes(row.body_key)
        assert response["Cache-Control"] == "private, no-cache"
        for credentials in ({}, {"HTTP_AUTHORIZATION": outsider}):
            cold()
            response = client.get(path, HTTP_ACCEPT=accept, **credentials)
            assert response.status_code == 404
            assert b"demo-1.0" not in response.content


def test_render_pages_prune_removes_only_old_unnamed_objects(upload, large):
    upload("1.0")
    upload("1.1")
    named = document_objects()
    storage = storages["default"]
    old, young = "documents/999/simple-html/" + "a" * 32, "documents/999/simple-html/" + "b" * 32
    for key in (old, young):
        storage.save(key, ContentFile(b"left behind"))
    hours_ago = time.time() - 2 * 3600
    os.utime(storage.path(old), (hours_ago, hours_ago))
    out, err = StringIO(), StringIO()
    call_command("render_pages", "--prune", "--dry-run", stdout=out, stderr=err)
    assert out.getvalue().strip() == "Would delete 1 unreferenced document object."
    assert old in err.getvalue() and storage.exists(old)
    out = StringIO()
    call_command("render_pages", "--prune", stdout=out, stderr=StringIO())
    assert out.getvalue().strip() == "Deleted 1 unreferenced document object."
    assert document_objects() == named | {young}
    # Never taken for orphaned distributions either.
    assert not [key for key in orphan_keys(storage, min_age=timedelta(0)) if "documents" in key]
    with pytest.raises(CommandError, match="--prune"):
        call_command("render_pages", "--prune", "--all")
