"""The streamed `/simple/` root (packages/root.py): the bytes render_index gives for the same
data, in either encoding, a 304 without rendering, read-your-writes, and private projects only
for the readers who may see them."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import zlib
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.core.files.storage import storages
from django.db import transaction

from packages import root, simple, static_pages
from packages.journal import record_change
from packages.models import JournalEntry, Project, RootSegment, RootSync
from packages.permissions import PUBLIC_SCOPE, ReadScope
from tests.factories import make_project, make_user

JSON = simple.V1_JSON
NAMES = ["a", "a-b", "a0", "ab", "Abc_Def", "b", "zz.top", "0day", "9", "py-thing", "Pyx"]


def expected(fmt: str, *, private_ids: frozenset[int] = frozenset(), everything=False) -> bytes:
    """render_index over the rows the old view listed, sorted by normalized name."""
    rows = Project.objects.visible()
    if not everything:
        rows = rows.filter(ReadScope(private_ids=private_ids).q())
    projects = sorted(
        rows.values_list("name", "normalized_name", "last_serial"), key=lambda r: r[1]
    )
    serial = JournalEntry.objects.last_serial()
    return simple.render_index(projects, serial=serial, fmt=fmt)


def journal(project: Project, action: str = "change") -> None:
    with transaction.atomic():
        record_change(project=project, action=action)


def body(response) -> bytes:
    data = response.getvalue()
    if response.get("Content-Encoding") == "gzip":
        return gzip.decompress(data)
    return data


@pytest.fixture
def projects(db):
    made = [make_project(name) for name in NAMES]
    for project in made[::3]:
        journal(project, "create")
    make_project("quiet", lifecycle_status="quarantine-enter")
    return made


@pytest.mark.parametrize("fmt", [simple.HTML, JSON])
@pytest.mark.parametrize("encoding", ["", "gzip"])
def test_root_is_byte_identical_to_render_index(client, projects, fmt, encoding):
    response = client.get("/simple/", HTTP_ACCEPT=fmt, HTTP_ACCEPT_ENCODING=encoding)
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == fmt
    assert body(response) == expected(fmt)
    assert (response.get("Content-Encoding") == "gzip") == bool(encoding)


def test_gzip_root_is_one_member_with_a_correct_checksum(client, projects):
    packed = client.get("/simple/", HTTP_ACCEPT_ENCODING="gzip").getvalue()
    # One member, as clients that read only the first (httpx, many browsers) need; zlib
    # checks the CRC-32 and size in the trailer.
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    plain = inflater.decompress(packed) + inflater.flush()
    assert inflater.eof and inflater.unused_data == b""
    assert plain == expected(simple.HTML)


def test_empty_index_in_both_formats_and_encodings(client, db):
    for fmt in (simple.HTML, JSON):
        for encoding in ("", "gzip"):
            response = client.get("/simple/", HTTP_ACCEPT=fmt, HTTP_ACCEPT_ENCODING=encoding)
            assert body(response) == simple.render_index([], serial=0, fmt=fmt)
    assert json.loads(body(client.get("/simple/", HTTP_ACCEPT=JSON)))["projects"] == []


def test_etag_answers_304_without_rendering(client, projects, django_assert_max_num_queries):
    first = client.get("/simple/")
    etag = first["ETag"]
    assert len(etag) == 34
    as_json = client.get("/simple/", HTTP_ACCEPT=JSON)
    assert as_json["ETag"] != etag
    # The journal's serial is the one query; nothing is read, refreshed or rendered.
    with django_assert_max_num_queries(1):
        response = client.get("/simple/", HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 304
    assert response["ETag"] == etag
    assert response["X-PyPI-Last-Serial"] == first["X-PyPI-Last-Serial"]
    assert response["Surrogate-Key"] == "simple simple-index"
    # The same ETag for gzip and plain (RFC 9110: the representation, before coding).
    assert client.get("/simple/", HTTP_ACCEPT_ENCODING="gzip")["ETag"] == etag
    journal(projects[1])
    changed = client.get("/simple/", HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200 and changed["ETag"] != etag


def test_a_new_project_appears_at_once_and_only_its_segment_is_rendered(client, projects):
    client.get("/simple/").getvalue()
    assert RootSync.objects.get().serial == JournalEntry.objects.last_serial()
    before = dict(RootSegment.objects.values_list("prefix", "built_serial"))
    fresh = make_project("Fresh-Start")
    journal(fresh, "create")
    page = body(client.get("/simple/", HTTP_ACCEPT=JSON))
    listed = json.loads(page)
    assert {"name": "Fresh-Start", "_last-serial": fresh.last_serial} in listed["projects"]
    assert page == expected(JSON)
    after = dict(RootSegment.objects.values_list("prefix", "built_serial"))
    assert {p for p in after if after[p] != before.get(p)} == {"fr"}


def test_quarantine_and_deletion_leave_the_root(client, projects):
    client.get("/simple/").getvalue()
    target = Project.objects.get(normalized_name="zz-top")
    Project.objects.filter(pk=target.pk).update(lifecycle_status="quarantine-enter")
    journal(target, "quarantine")
    assert b"zz.top" not in body(client.get("/simple/"))
    assert not RootSegment.objects.filter(prefix="zz").exists()
    lone = Project.objects.get(normalized_name="9")
    journal(lone, "remove")
    Project.objects.filter(pk=lone.pk).delete()
    assert body(client.get("/simple/")) == expected(simple.HTML)


def test_private_projects_only_for_their_readers(client, projects):
    outsider, member = make_user("outsider"), make_user("member")
    secret = make_project("ab-secret", is_private=True, owner=member)
    lonely = make_project("qq-hidden", is_private=True, owner=member)
    journal(secret, "create")
    journal(lonely, "create")
    for fmt in (simple.HTML, JSON):
        for encoding in ("", "gzip"):
            client.force_login(outsider)
            seen = client.get("/simple/", HTTP_ACCEPT=fmt, HTTP_ACCEPT_ENCODING=encoding)
            page = body(seen)
            assert b"secret" not in page and b"hidden" not in page
            assert page == expected(fmt)
            assert seen["Cache-Control"].startswith("public")
            client.force_login(member)
            own = client.get("/simple/", HTTP_ACCEPT=fmt, HTTP_ACCEPT_ENCODING=encoding)
            ids = frozenset({secret.pk, lonely.pk})
            assert body(own) == expected(fmt, private_ids=ids)
            assert own["Cache-Control"] == "private, no-cache"
            assert own["ETag"] != seen["ETag"]
    client.logout()
    assert b"secret" not in body(client.get("/simple/"))
    stored = RootSegment.objects.values_list("html", flat=True)
    assert not any(b"secret" in bytes(html) for html in stored)
    staff = b"".join(
        root.stream_root(
            serial=JournalEntry.objects.last_serial(),
            fmt=simple.HTML,
            scope=ReadScope(all_private=True),
            gzipped=False,
        )
    )
    assert staff == expected(simple.HTML, everything=True)


def test_another_renderer_rebuilds_every_segment(client, projects, monkeypatch):
    client.get("/simple/").getvalue()
    RootSegment.objects.filter(prefix="py").update(html=b"stale")
    monkeypatch.setattr(root, "RENDER_VERSION", "next-deploy")
    assert body(client.get("/simple/")) == expected(simple.HTML)
    assert RootSync.objects.get().render_version == "next-deploy"


def test_stream_yields_pieces_not_one_body(projects):
    root.refresh_segments(serial=JournalEntry.objects.last_serial())
    serial = JournalEntry.objects.last_serial()
    chunks = list(root.stream_root(serial=serial, fmt=simple.HTML, gzipped=False))
    assert len(chunks) == RootSegment.objects.count() + 2
    assert b"".join(chunks) == expected(simple.HTML)
    assert PUBLIC_SCOPE.access_class == "public"


def test_head_sends_the_headers_without_the_segments(client, projects):
    response = client.head("/simple/")
    assert response.status_code == 200
    assert response["ETag"] == client.get("/simple/")["ETag"]
    assert response.getvalue() == b""


def stored_root_serial() -> int:
    version = static_pages.page_set_version(key=static_pages.project_key(static_pages.ROOT))
    return static_pages.stored_serial(version)


def test_static_root_is_coalesced_and_catches_up(projects, monkeypatch):
    assert static_pages.publish_root() == static_pages.WRITTEN
    packed = Path(storages["default"].path("simple/_root/index.v1_json.gz")).read_bytes()
    assert gzip.decompress(packed) == expected(JSON)
    # Another writer holds the lock: this caller returns at once, writing nothing.
    journal(projects[2])

    @contextmanager
    def taken(*, wait: bool):
        yield False

    with monkeypatch.context() as patched:
        patched.setattr(static_pages, "_root_lock", taken)
        assert static_pages.publish_root() == static_pages.UNCHANGED
    assert stored_root_serial() < JournalEntry.objects.last_serial()
    # A change committed while the writer writes: its second look writes once more.
    write, serials = static_pages._write_root, []

    def write_then_change(*, force: bool) -> str:
        outcome = write(force=force)
        serials.append(stored_root_serial())
        if len(serials) == 1:
            journal(projects[3])
        return outcome

    monkeypatch.setattr(static_pages, "_write_root", write_then_change)
    assert static_pages.publish_root() == static_pages.WRITTEN
    last = JournalEntry.objects.last_serial()
    assert serials == [last - 1, last]
    assert stored_root_serial() == last
    html = Path(storages["default"].path("simple/_root/index.html")).read_bytes()
    assert html == expected(simple.HTML)


def test_bench_root_has_help():
    result = subprocess.run(
        [sys.executable, "-m", "bench.root", "--help"],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0 and "measure" in result.stdout
