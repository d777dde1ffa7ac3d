"""Reads through the proxy: pages, JSON API and files of upstream-only names come from the
static upstream (tests/proxy/upstream_server.py), are kept in packages' tables and storage, and
are served from there afterwards; with UPSTREAM_INDEX_URL unset nothing leaves the index."""

from __future__ import annotations

import hashlib
import json
import time

import pytest
from django.core.cache import cache
from django.core.files.storage import storages

from packages.models import File, LifecycleStatus, Origin, Project, StoredDocument
from packages.responses import local_pages
from proxy import mirror
from proxy import upstream as upstream_module
from proxy.downloads import FillError
from proxy.models import UpstreamProject
from tests.factories import make_files, make_project, make_release

pytestmark = pytest.mark.django_db

JSON = "application/vnd.pypi.simple.v1+json"


def simple_json(client, name: str):
    return client.get(f"/simple/{name}/", HTTP_ACCEPT=JSON)


def file_path(url: str) -> str:
    return url.removeprefix("http://testserver")


def test_proxy_off_makes_no_outbound_request(client, settings, monkeypatch, upstream):
    upstream.add_wheel("only-upstream", "1.0")
    settings.UPSTREAM_INDEX_URL = ""

    def refuse(*args, **kwargs):
        raise AssertionError("an outbound request with the proxy off")

    monkeypatch.setattr(upstream_module, "open_url", refuse)
    assert simple_json(client, "only-upstream").status_code == 404
    assert client.get("/pypi/only-upstream/json").status_code == 404
    assert upstream.requests == {}
    assert not Project.objects.exists()


def test_upstream_project_is_served_from_this_index(client, upstream):
    entry = upstream.add_wheel("Up-Lib", "1.0")
    upstream.add_wheel("Up-Lib", "1.1", yanked="broken")

    response = simple_json(client, "up-lib")
    assert response.status_code == 200
    page = response.json()
    assert [f["filename"] for f in page["files"]] == [entry.filename, "up_lib-1.1-py3-none-any.whl"]
    first = page["files"][0]
    assert first["url"].startswith("http://testserver/packages/")
    assert first["hashes"] == {"sha256": entry.sha256}
    assert first["core-metadata"] == {"sha256": hashlib.sha256(entry.metadata).hexdigest()}
    assert first["upload-time"].startswith(entry.upload_time.strftime("%Y-%m-%dT%H:%M"))
    assert page["files"][1]["yanked"] == "broken"
    assert page["versions"] == ["1.0", "1.1"]
    project = Project.objects.get(normalized_name="up-lib")
    assert project.origin == Origin.UPSTREAM
    state = UpstreamProject.objects.get(normalized_name="up-lib")
    assert state.project == project and state.upstream_serial == 4242 and state.etag

    html = client.get("/simple/up-lib/")
    assert html.status_code == 200 and entry.filename in html.content.decode()
    assert client.get("/pypi/up-lib/json").json()["info"]["version"] == "1.0"
    # Within UPSTREAM_PAGE_TTL the copy is served without asking the upstream again.
    assert upstream.page_requests("up-lib") == 1


def test_file_is_fetched_once_then_served_from_storage_with_ranges(client, upstream):
    entry = upstream.add_wheel("up-lib", "1.0", payload=b"X = 1\n" * 50_000)
    url = file_path(simple_json(client, "up-lib").json()["files"][0]["url"])

    first = client.get(url)
    assert first.status_code == 200 and first.streaming
    assert b"".join(first.streaming_content) == entry.body
    file = File.objects.get(filename=entry.filename)
    assert storages["default"].exists(file.path)
    assert file.blake2_256_digest == hashlib.blake2b(entry.body, digest_size=32).hexdigest()

    again = client.get(url, HTTP_RANGE="bytes=0-9")
    assert again.status_code == 206
    assert b"".join(again.streaming_content) == entry.body[:10]
    assert client.get(url).status_code == 200
    assert upstream.file_requests(entry.filename) == 1

    metadata = client.get(f"{url}.metadata")
    assert metadata.status_code == 200
    assert b"".join(metadata.streaming_content) == entry.metadata
    assert client.get(f"{url}.metadata").status_code == 200
    assert upstream.file_requests(f"{entry.filename}.metadata") == 1


def test_first_request_for_a_range_fetches_the_whole_file(client, upstream):
    entry = upstream.add_wheel("up-lib", "1.0")
    url = file_path(simple_json(client, "up-lib").json()["files"][0]["url"])
    response = client.get(url, HTTP_RANGE=f"bytes=-{len(entry.body) - 5}")
    assert response.status_code == 206
    assert b"".join(response.streaming_content) == entry.body[5:]


def test_sha256_mismatch_keeps_nothing(client, upstream):
    entry = upstream.add_wheel("up-lib", "1.0")
    upstream.corrupt.add(entry.filename)
    url = file_path(simple_json(client, "up-lib").json()["files"][0]["url"])
    response = client.get(url)
    with pytest.raises(FillError, match="do not match"):
        b"".join(response.streaming_content)
    file = File.objects.get(filename=entry.filename)
    assert not storages["default"].exists(file.path)
    assert file.blake2_256_digest is None
    # Fixed upstream: the next download verifies and is kept.
    upstream.corrupt.clear()
    assert b"".join(client.get(url).streaming_content) == entry.body
    assert storages["default"].exists(file.path)


def test_local_project_is_never_merged_with_its_upstream_twin(client, upstream):
    upstream.add_wheel("twin", "9.0")
    project = make_project("twin")
    make_files(make_release(project, "1.0"), 1)
    files = simple_json(client, "twin").json()["files"]
    assert [f["filename"] for f in files] == ["twin-1.0-0-py3-none-any.whl"]
    assert "9.0" not in client.get("/pypi/twin/json").json()["releases"]
    assert upstream.requests == {}


def test_local_project_hidden_from_the_reader_does_not_fall_through(client, upstream):
    upstream.add_wheel("hidden", "1.0")
    make_project("hidden", lifecycle_status=LifecycleStatus.QUARANTINE_ENTER)
    assert client.get("/pypi/hidden/json").status_code == 404
    assert upstream.requests == {}


def test_unknown_name_is_404_and_remembered(client, upstream):
    assert simple_json(client, "nowhere").status_code == 404
    assert client.get("/pypi/nowhere/json").status_code == 404
    assert upstream.page_requests("nowhere") == 1
    assert not UpstreamProject.objects.exists()


def test_http_behaviour_of_proxied_pages(client, upstream):
    upstream.add_wheel("up-lib", "1.0")
    response = simple_json(client, "up-lib")
    assert "Accept" in response["Vary"].split(", ")
    assert response["ETag"]
    cached = client.get("/simple/up-lib/", HTTP_ACCEPT=JSON, HTTP_IF_NONE_MATCH=response["ETag"])
    assert cached.status_code == 304
    redirect = client.get("/simple/Up_Lib/")
    assert redirect.status_code == 301 and redirect["Location"] == "/simple/up-lib/"
    assert client.get("/pypi/UP-LIB/json").status_code == 301


def test_revalidation_is_conditional_and_picks_up_changes(client, settings, upstream):
    upstream.add_wheel("up-lib", "1.0")
    settings.UPSTREAM_PAGE_TTL = 0
    simple_json(client, "up-lib")
    simple_json(client, "up-lib")
    assert upstream.page_requests("up-lib") == 2
    assert mirror.resolve("up-lib").project is not None
    serial = Project.objects.get(normalized_name="up-lib").last_serial
    upstream.add_wheel("up-lib", "2.0")
    assert simple_json(client, "up-lib").json()["versions"] == ["1.0", "2.0"]
    assert Project.objects.get(normalized_name="up-lib").last_serial > serial


def test_a_refreshed_projects_stored_copy_follows_the_upstream(
    client, settings, upstream, django_capture_on_commit_callbacks
):
    """A refresh is a journaled change like an upload, so its job stores the new page."""
    settings.REDIS_URL = ""
    settings.UPSTREAM_PAGE_TTL = 0
    upstream.add_wheel("up-lib", "1.0")
    with django_capture_on_commit_callbacks(execute=True):
        simple_json(client, "up-lib")
    upstream.add_wheel("up-lib", "2.0")
    with django_capture_on_commit_callbacks(execute=True):
        simple_json(client, "up-lib")
    project = Project.objects.get(normalized_name="up-lib")
    stored = StoredDocument.objects.get(project=project, kind=StoredDocument.Kind.SIMPLE_JSON)
    assert stored.serial == project.last_serial
    assert json.loads(bytes(stored.body))["versions"] == ["1.0", "2.0"]
    settings.UPSTREAM_PAGE_TTL = 3600
    cache.clear()
    local_pages.clear()
    assert simple_json(client, "up-lib").content == bytes(stored.body)


def test_revalidation_sends_the_etag(upstream, settings):
    upstream.add_wheel("up-lib", "1.0")
    mirror.resolve("up-lib")
    settings.UPSTREAM_PAGE_TTL = 0
    serial = Project.objects.get(normalized_name="up-lib").last_serial
    seen = {}
    original = upstream_module.open_url

    def spy(url, *, headers=None):
        seen.update(headers or {})
        return original(url, headers=headers)

    upstream_module.open_url = spy
    try:
        assert mirror.resolve("up-lib").project is not None
    finally:
        upstream_module.open_url = original
    assert seen["If-None-Match"] == UpstreamProject.objects.get().etag
    # A 304 changes nothing: no journal entry, the same serial.
    assert Project.objects.get(normalized_name="up-lib").last_serial == serial


@pytest.mark.parametrize("trouble", ["500", "timeout"])
def test_upstream_failure_serves_the_stale_page(client, settings, upstream, trouble):
    entry = upstream.add_wheel("up-lib", "1.0")
    assert simple_json(client, "up-lib").status_code == 200
    settings.UPSTREAM_PAGE_TTL = 0
    if trouble == "500":
        upstream.fail_status = 500
    else:
        settings.UPSTREAM_TIMEOUT = 1
        upstream.stall_seconds = 2
    started = time.monotonic()
    response = simple_json(client, "up-lib")
    assert response.status_code == 200
    assert [f["filename"] for f in response.json()["files"]] == [entry.filename]
    assert "upstream failed" in response["X-Upstream-Stale"]
    assert time.monotonic() - started < 5
    state = UpstreamProject.objects.get()
    assert state.error_count == 1 and state.last_error
    # An upstream-only name never seen before has nothing to fall back on: 502, says why.
    missing = client.get("/pypi/never-seen/json")
    assert missing.status_code == 502 and "upstream" in missing.json()["message"]


def test_html_only_upstream(client, upstream):
    upstream.html_only = True
    entry = upstream.add_wheel("up-lib", "1.0")
    files = simple_json(client, "up-lib").json()["files"]
    assert [(f["filename"], f["hashes"]["sha256"]) for f in files] == [
        (entry.filename, entry.sha256)
    ]
    assert files[0]["core-metadata"]
    assert File.objects.get().upstream_upload_time is None
    assert b"".join(client.get(file_path(files[0]["url"])).streaming_content) == entry.body


def test_upstream_credentials_are_sent(client, settings, upstream):
    upstream.credentials = ("reader", "s3cret")
    upstream.add_wheel("up-lib", "1.0")
    assert simple_json(client, "up-lib").status_code == 502
    settings.UPSTREAM_INDEX_USERNAME = "reader"
    settings.UPSTREAM_INDEX_PASSWORD = "s3cret"
    assert simple_json(client, "up-lib").status_code == 200


def test_blocked_name_is_404_with_the_reason(client, upstream):
    upstream.add_wheel("evil", "1.0")
    assert simple_json(client, "evil").status_code == 200
    mirror.block(normalized_name="evil", reason="known malware, report 17")
    response = client.get("/simple/evil/")
    assert response.status_code == 404
    assert "known malware, report 17" in response.content.decode()
    assert not Project.objects.filter(normalized_name="evil").exists()
    assert upstream.page_requests("evil") == 1


def test_purge_forgets_the_copy_and_its_bytes(client, upstream):
    entry = upstream.add_wheel("up-lib", "1.0")
    url = file_path(simple_json(client, "up-lib").json()["files"][0]["url"])
    b"".join(client.get(url).streaming_content)
    path = File.objects.get().path
    assert mirror.purge(state=UpstreamProject.objects.get())
    assert not Project.objects.exists()
    assert simple_json(client, "up-lib").status_code == 200
    assert upstream.page_requests("up-lib") == 2
    assert entry.filename in [f.filename for f in File.objects.all()]
    assert path == File.objects.get().path


def test_a_cached_proxied_page_costs_one_query_more_than_packages_view(client, upstream):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    upstream.add_wheel("up-lib", "1.0")
    make_files(make_release(make_project("local-lib"), "1.0"), 1)
    simple_json(client, "up-lib")
    simple_json(client, "local-lib")
    with CaptureQueriesContext(connection) as proxied:
        assert simple_json(client, "up-lib").status_code == 200
    with CaptureQueriesContext(connection) as local:
        assert simple_json(client, "local-lib").status_code == 200
    assert len(proxied) == len(local)
    assert upstream.page_requests("up-lib") == 1


def _fill_locks_held(settings) -> int:
    """Fill locks held right now: advisory locks of this session (PostgreSQL), or lock files
    some open descriptor holds (the embedded file locks)."""
    import fcntl
    from pathlib import Path

    from django.db import connection

    from proxy.locking import _PROXY_LOCKS

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                "AND pid = pg_backend_pid() AND granted AND classid = %s",
                [_PROXY_LOCKS],
            )
            return cursor.fetchone()[0]
    held = 0
    for path in (Path(settings.DATA_DIR) / "proxy-locks").glob("*.lock"):
        with open(path, "a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                held += 1
            else:
                fcntl.flock(handle, fcntl.LOCK_UN)
    return held


def test_a_client_leaving_before_the_first_chunk_releases_the_file(client, settings, upstream):
    entry = upstream.add_wheel("up-lib", "1.0")
    url = file_path(simple_json(client, "up-lib").json()["files"][0]["url"])
    abandoned = client.get(url)
    assert abandoned.streaming
    assert _fill_locks_held(settings) == 1
    # What the server does when the client hangs up (without closing the test's database
    # connection, as Django's test client does around its own requests).
    from django.core.signals import request_finished
    from django.db import close_old_connections

    request_finished.disconnect(close_old_connections)
    try:
        abandoned.close()
    finally:
        request_finished.connect(close_old_connections)
    assert _fill_locks_held(settings) == 0
    assert b"".join(client.get(url).streaming_content) == entry.body


def test_credentials_in_the_url(client, settings, upstream):
    upstream.credentials = ("reader", "p@ss")
    upstream.add_wheel("up-lib", "1.0")
    settings.UPSTREAM_INDEX_URL = upstream.url.replace("http://", "http://reader:p%40ss@")
    assert simple_json(client, "up-lib").status_code == 200
    url = file_path(simple_json(client, "up-lib").json()["files"][0]["url"])
    assert client.get(url).status_code == 200


def test_file_urls_on_other_hosts_must_be_public(client, upstream):
    port = upstream.server.server_address[1]
    entry = upstream.add_wheel("up-lib", "1.0")
    # Same server, but named differently: another host, so a private address is refused.
    entry.url = f"http://localhost:{port}/files/{entry.filename}"
    url = file_path(simple_json(client, "up-lib").json()["files"][0]["url"])
    refused = client.get(url)
    assert refused.status_code == 502
    assert "not on the public internet" in refused.content.decode()
    assert upstream.file_requests(entry.filename) == 0


def test_cached_projects_are_not_the_index_news(client, upstream):
    upstream.add_wheel("up-lib", "1.0")
    mirror.resolve("up-lib")
    make_files(make_release(make_project("ours"), "1.0"), 1)
    feed = client.get("/rss/packages.xml").content.decode()
    assert "ours" in feed and "up-lib" not in feed
    assert "up-lib" not in client.get("/rss/updates.xml").content.decode()
    release = Project.objects.get(normalized_name="up-lib").releases.get()
    assert release.created == File.objects.get(release=release).upload_time


def test_overlong_names_and_versions_are_not_fetched(client, upstream):
    name = "a" * 250
    assert client.get(f"/simple/{name}/").status_code == 404
    assert client.get(f"/pypi/{name}/json").status_code == 404
    assert upstream.requests == {}
    upstream.add_wheel("up-lib", "1.0")
    upstream.add_wheel("up-lib", "1." + ".".join(["1"] * 60))
    files = simple_json(client, "up-lib").json()["files"]
    assert [f["filename"] for f in files] == ["up_lib-1.0-py3-none-any.whl"]


@pytest.mark.parametrize(
    "path",
    [
        "/simple/%00/",
        "/simple/-bad-/",
        "/simple/" + "x" * 300 + "/",
        "/pypi/%00/json",
        "/pypi/up-lib/%00/json",
        "/pypi/up-lib/not a version/json",
        "/packages/aa/bb/" + "c" * 60 + "/up_lib-1.0-py3-none-any.whl",
        "/packages/aa/bb/" + "c" * 60 + "/up_lib-1.0-py3-none-any.whl.metadata",
    ],
)
def test_bad_input_through_the_proxy_is_a_4xx(client, upstream, path):
    upstream.add_wheel("up-lib", "1.0")
    response = client.get(path)
    assert 400 <= response.status_code < 500, (path, response.status_code)
