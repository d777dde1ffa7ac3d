"""Static simple pages (STATIC_SIMPLE_PAGES): every change to a project rewrites its pages and
the root in storage, byte for byte what the views send, and the CDN hears of it (CDN_PURGE_URL).
nginx serving them is tests/e2e/test_static_pages.py."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import json
import os
import threading
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.files.storage import storages
from django.core.management import call_command

from packages import cdn, static_pages
from packages.maintenance import orphan_keys
from packages.models import File, Project, Release
from packages.moderation import clear_quarantine, quarantine_project
from packages.publishing import publish_change
from packages.releases import delete_project, yank_release
from packages.storage import PageFile, publish_page_set
from tests.factories import make_token, make_user, post_upload, sdist_upload, wheel_upload

pytestmark = pytest.mark.django_db

JSON = "application/vnd.pypi.simple.v1+json"


@pytest.fixture
def static_on(settings):
    settings.STATIC_SIMPLE_PAGES = True
    settings.REDIS_URL = ""  # Jobs inline after commit.
    settings.CDN_PURGE_URL = ""


@pytest.fixture
def upload(client, django_capture_on_commit_callbacks):
    token = make_token(make_user())

    def send(request) -> None:
        with django_capture_on_commit_callbacks(execute=True):
            assert post_upload(client, request, token).status_code == 200

    return send


def stored(path: str) -> Path:
    return Path(storages["default"].path(path))


def version_of(name: str) -> tuple[int, str, str]:
    serial, html_md5, json_md5 = os.readlink(stored(f"simple/{name}")).rsplit("/", 1)[1].split(".")
    return int(serial), html_md5, json_md5


def assert_matches_view(client, url: str, folder: str) -> None:
    """The stored files are the bytes, serial and ETags the view sends for the same page."""
    html = client.get(url)
    as_json = client.get(url, HTTP_ACCEPT=JSON)
    # getvalue(): the root is a streamed answer, read once.
    html_body, json_body = html.getvalue(), as_json.getvalue()
    assert stored(f"{folder}/index.html").read_bytes() == html_body
    assert stored(f"{folder}/index.v1_html").read_bytes() == html_body
    assert stored(f"{folder}/index.v1_json").read_bytes() == json_body
    for name in ("index.html", "index.v1_json"):
        packed = stored(f"{folder}/{name}.gz").read_bytes()
        assert gzip.decompress(packed) == stored(f"{folder}/{name}").read_bytes()
    serial, html_md5, json_md5 = version_of(folder.removeprefix("simple/"))
    assert serial == int(html["X-PyPI-Last-Serial"]) == int(as_json["X-PyPI-Last-Serial"])
    assert f'"{html_md5}"' == html["ETag"]
    assert f'"{json_md5}"' == as_json["ETag"]


def test_uploads_write_the_project_and_root_pages_the_views_send(client, static_on, upload):
    upload(wheel_upload("Demo", "1.0", fields={"requires_python": ">=3.9"}))
    first = version_of("demo")
    upload(sdist_upload("Demo", "1.0"))
    assert version_of("demo")[0] > first[0]

    assert_matches_view(client, "/simple/demo/", "simple/demo")
    assert_matches_view(client, "/simple/", "simple/_root")
    page = json.loads(stored("simple/demo/index.v1_json").read_bytes())
    assert [f["filename"] for f in page["files"]] == [
        "demo-1.0-py3-none-any.whl",
        "demo-1.0.tar.gz",
    ]
    # A plain web server finds the root where it looks for it.
    assert stored("simple/index.html").read_bytes() == client.get("/simple/").getvalue()
    assert b'href="/simple/demo/"' in stored("simple/index.html").read_bytes()
    # The version being replaced stays for readers that resolved the link just before.
    second = ".".join(map(str, version_of("demo")))
    upload(wheel_upload("Demo", "2.0"))
    versions = os.listdir(stored("simple/.pages/demo"))
    assert second in versions and len(versions) == 2  # Older ones go.


def test_a_yank_rewrites_the_page(client, static_on, upload, django_capture_on_commit_callbacks):
    upload(wheel_upload("demo", "1.0"))
    release = Release.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        yank_release(release=release, reason="broken", user=None)
    assert b'data-yanked="broken"' in stored("simple/demo/index.html").read_bytes()
    assert_matches_view(client, "/simple/demo/", "simple/demo")


def test_quarantine_empties_the_page_hides_the_files_and_clearing_restores_them(
    client, static_on, upload, django_capture_on_commit_callbacks
):
    upload(wheel_upload("demo", "1.0"))
    upload(wheel_upload("other", "1.0"))
    file = File.objects.get(filename__startswith="demo-")
    markers = [
        stored(f"simple/.quarantined/{file.path}"),
        stored(f"simple/.quarantined/{file.metadata_path}"),
    ]
    project = Project.objects.get(normalized_name="demo")

    with django_capture_on_commit_callbacks(execute=True):
        quarantine_project(project=project, reason="malware report", notice="")
    page = json.loads(stored("simple/demo/index.v1_json").read_bytes())
    assert page["files"] == []
    assert page["project-status"]["status"] == "quarantined"
    assert b'href="/simple/demo/"' not in stored("simple/index.html").read_bytes()
    assert b'href="/simple/other/"' in stored("simple/index.html").read_bytes()
    assert all(marker.exists() for marker in markers)
    assert_matches_view(client, "/simple/demo/", "simple/demo")

    with django_capture_on_commit_callbacks(execute=True):
        clear_quarantine(project=Project.objects.get(pk=project.pk), reason="false alarm")
    page = json.loads(stored("simple/demo/index.v1_json").read_bytes())
    assert [f["filename"] for f in page["files"]] == [file.filename]
    assert not any(marker.exists() for marker in markers)
    assert b'href="/simple/demo/"' in stored("simple/index.html").read_bytes()


def test_deleting_a_project_removes_its_pages(
    client, static_on, upload, django_capture_on_commit_callbacks
):
    upload(wheel_upload("demo", "1.0"))
    assert stored("simple/demo/index.html").exists()
    with django_capture_on_commit_callbacks(execute=True):
        delete_project(project=Project.objects.get(), user=None)
    assert not os.path.lexists(stored("simple/demo"))
    assert not stored("simple/.pages/demo").exists()
    assert b"demo" not in stored("simple/index.html").read_bytes()
    assert_matches_view(client, "/simple/", "simple/_root")


def test_an_older_job_never_replaces_newer_pages(static_on, upload):
    upload(wheel_upload("demo", "1.0"))
    serial = Project.objects.get().last_serial
    newer = f"{serial + 5}.{'a' * 32}.{'b' * 32}"
    publish_page_set(
        key="simple/demo", version=newer, pages=[PageFile("index.html", b"newer", "text/html")]
    )
    assert static_pages.publish_project(normalized_name="demo") == static_pages.UNCHANGED
    assert stored("simple/demo/index.html").read_bytes() == b"newer"
    # A job run twice finds its work done.
    publish_change("demo")
    assert stored("simple/demo/index.html").read_bytes() == b"newer"


def test_nothing_is_written_when_off(settings, upload):
    settings.STATIC_SIMPLE_PAGES = False
    upload(wheel_upload("demo", "1.0"))
    assert not stored("simple").exists()


def test_write_static_simple_writes_every_project_and_removes_deleted_ones(
    settings, upload, django_capture_on_commit_callbacks
):
    settings.STATIC_SIMPLE_PAGES = False
    upload(wheel_upload("demo", "1.0"))
    upload(wheel_upload("other", "1.0"))
    out = StringIO()
    call_command("write_static_simple", "--dry-run", stdout=out, stderr=StringIO())
    assert "Would write 2 projects and the root" in out.getvalue()
    assert not stored("simple").exists()

    err = StringIO()
    call_command("write_static_simple", "--every", "1", stdout=out, stderr=err)
    assert "projects: 2/2 (other)" in err.getvalue()
    assert "2 projects: 2 written" in out.getvalue()
    assert stored("simple/demo/index.html").exists() and stored("simple/other/index.html").exists()
    assert stored("simple/index.html").exists()

    with django_capture_on_commit_callbacks(execute=True):
        delete_project(project=Project.objects.get(normalized_name="other"), user=None)
    out = StringIO()
    call_command("write_static_simple", "--dry-run", stdout=out, stderr=StringIO())
    assert "would remove other" in out.getvalue()
    assert stored("simple/other/index.html").exists()
    call_command("write_static_simple", stdout=out, stderr=StringIO())
    assert "removed other" in out.getvalue()
    assert not os.path.lexists(stored("simple/other"))
    assert b"other" not in stored("simple/index.html").read_bytes()


def test_verify_storage_does_not_count_static_pages_as_orphans(settings, static_on, upload):
    upload(wheel_upload("demo", "1.0"))
    assert stored("simple/demo/index.html").exists()
    assert list(orphan_keys(storages["default"], min_age=timedelta(0))) == []


# --- CDN headers and purges -----------------------------------------------------------------


def test_simple_pages_carry_cdn_headers(client, static_on, upload):
    upload(wheel_upload("Demo", "1.0"))
    detail = client.get("/simple/demo/")
    assert detail["Surrogate-Key"] == "simple simple-demo"
    assert detail["Cache-Control"] == "public, max-age=600"
    assert detail["Surrogate-Control"].startswith("max-age=86400")
    assert client.get("/simple/")["Surrogate-Key"] == "simple simple-index"


class _Receiver(http.server.BaseHTTPRequestHandler):
    seen: list[tuple[str, str, dict[str, str]]] = []
    status = 200

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        _Receiver.seen.append((self.command, self.path, dict(self.headers)))
        self.send_response(_Receiver.status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_POST = do_PURGE = _answer

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def receiver():
    _Receiver.seen, _Receiver.status = [], 200
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_change_purges_the_project_and_root_keys(settings, receiver, upload):
    settings.STATIC_SIMPLE_PAGES = False
    settings.REDIS_URL = ""
    settings.CDN_PURGE_URL = f"{receiver}/service/x/purge/{{key}}"
    settings.CDN_PURGE_HEADER = "Fastly-Key: secret"
    upload(wheel_upload("Demo", "1.0"))
    paths = {path for _method, path, _headers in _Receiver.seen}
    assert paths == {"/service/x/purge/simple-demo", "/service/x/purge/simple-index"}
    assert {method for method, *_ in _Receiver.seen} == {"POST"}
    assert all(headers["Fastly-Key"] == "secret" for *_, headers in _Receiver.seen)


def test_a_purge_url_without_a_key_gets_one_purge_with_surrogate_keys(settings, receiver):
    settings.CDN_PURGE_URL = f"{receiver}/"
    settings.CDN_PURGE_HEADER = ""
    assert cdn.purge(keys=cdn.keys_for_change(normalized_name="demo")) == 1
    ((method, path, headers),) = _Receiver.seen
    assert (method, path, headers["Surrogate-Key"]) == ("PURGE", "/", "simple-demo simple-index")


def test_a_refused_purge_fails_the_job_so_the_queue_retries_it(settings, receiver):
    settings.CDN_PURGE_URL = f"{receiver}/purge/{{key}}"
    settings.STATIC_SIMPLE_PAGES = False
    _Receiver.status = 503
    with pytest.raises(OSError, match="503"):
        publish_change("demo")


def test_static_page_versions_name_the_md5_the_app_uses_as_etag(client, static_on, upload):
    upload(wheel_upload("demo", "1.0"))
    _serial, html_md5, _json = version_of("demo")
    body = stored("simple/demo/index.html").read_bytes()
    assert hashlib.md5(body).hexdigest() == html_md5


def test_deleted_files_are_hidden_from_nginx_while_their_bytes_are_kept(
    client, static_on, upload, django_capture_on_commit_callbacks
):
    """nginx serves /packages/ from disk; a deleted file's bytes stay for the point-in-time
    view, so a marker must send its live URL to the app (which answers 404)."""
    from packages.releases import delete_file

    upload(wheel_upload("demo", "1.0"))
    upload(wheel_upload("demo", "2.0"))
    upload(wheel_upload("gone", "1.0"))
    old, new = File.objects.filter(release__project__name="demo").order_by("release__version")
    with django_capture_on_commit_callbacks(execute=True):
        delete_file(file=old)
    assert stored(old.path).exists()
    assert stored(f"simple/.quarantined/{old.path}").exists()
    assert stored(f"simple/.quarantined/{old.metadata_path}").exists()
    assert not stored(f"simple/.quarantined/{new.path}").exists()
    assert_matches_view(client, "/simple/demo/", "simple/demo")

    gone = File.objects.get(release__project__name="gone")
    with django_capture_on_commit_callbacks(execute=True):
        delete_project(project=Project.objects.get(name="gone"))
    assert not stored("simple/gone").exists()
    assert stored(f"simple/.quarantined/{gone.path}").exists()
