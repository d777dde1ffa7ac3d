from __future__ import annotations

import gzip
import json

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from packages.documents import kind_of_simple
from packages.models import StoredDocument
from packages.releases import yank_release
from packages.responses import LARGE_PAGE_BYTES, RenderedPage, local_pages
from tests.factories import (
    make_files,
    make_project,
    make_release,
    make_token,
    make_user,
    post_upload,
    sdist_upload,
    wheel_upload,
)

pytestmark = pytest.mark.django_db

JSON = "application/vnd.pypi.simple.v1+json"
V1_HTML = "application/vnd.pypi.simple.v1+html"


@pytest.fixture
def uploaded(client):
    """demo 1.0 (wheel + sdist, requires-python) and 2.0b1 (wheel), uploaded for real."""
    token = make_token(make_user())
    fields = {"requires_python": ">=3.9"}
    for upload in [
        wheel_upload("Demo", "1.0", fields=fields),
        sdist_upload("Demo", "1.0", fields=fields),
        wheel_upload("Demo", "2.0b1"),
    ]:
        assert post_upload(client, upload, token).status_code == 200
    return token


def get_json(client, url: str, **headers):
    response = client.get(url, HTTP_ACCEPT=JSON, **headers)
    assert response.status_code == 200
    assert response["Content-Type"] == JSON
    return response, json.loads(response.getvalue())


def test_empty_index_answers(client):
    response = client.get("/simple/")
    assert response.status_code == 200
    assert b'<meta name="pypi:repository-version" content="1.4">' in response.getvalue()
    assert response["X-PyPI-Last-Serial"] == "0"


def test_index_lists_projects_in_both_formats(client, uploaded):
    html = client.get("/simple/")
    assert b'<a href="/simple/demo/">Demo</a>' in html.getvalue()
    assert html["Vary"].startswith("Accept")
    response, data = get_json(client, "/simple/")
    assert data["meta"]["api-version"] == "1.4"
    assert data["projects"] == [{"name": "Demo", "_last-serial": data["meta"]["_last-serial"]}]
    assert response["X-PyPI-Last-Serial"] == str(data["meta"]["_last-serial"])


@pytest.mark.parametrize("path", ["/simple/", "/simple/demo/", "/pypi/Demo/json"])
def test_public_pages_do_not_vary_on_cookies_for_installers(client, uploaded, path):
    """Installers send no session cookie; a public page answered to them must not say
    `Vary: Cookie`, or CDNs and nginx's static copies (which never vary on it) disagree."""
    client.cookies.clear()  # the upload fixture left none, but be sure: installers send none
    response = client.get(path)
    assert response.status_code == 200
    assert "Cookie" not in response.get("Vary", "")


def test_detail_json_fields(client, uploaded):
    response, data = get_json(client, "/simple/demo/")
    assert data["name"] == "demo"
    assert data["project-status"] == {"status": "active"}
    assert data["versions"] == ["1.0", "2.0b1"]
    by_name = {f["filename"]: f for f in data["files"]}
    assert list(by_name) == ["demo-1.0-py3-none-any.whl", "demo-1.0.tar.gz",
                             "demo-2.0b1-py3-none-any.whl"]  # fmt: skip
    wheel = by_name["demo-1.0-py3-none-any.whl"]
    assert wheel["url"].startswith("http://testserver/packages/")
    assert len(wheel["hashes"]["sha256"]) == 64
    assert wheel["requires-python"] == ">=3.9"
    assert wheel["yanked"] is False
    assert wheel["core-metadata"] == wheel["data-dist-info-metadata"]
    assert len(wheel["core-metadata"]["sha256"]) == 64
    assert wheel["upload-time"].endswith("Z")
    assert wheel["size"] > 0
    sdist = by_name["demo-1.0.tar.gz"]
    assert sdist["core-metadata"] is False and sdist["data-dist-info-metadata"] is False
    assert by_name["demo-2.0b1-py3-none-any.whl"]["requires-python"] is None


def test_detail_html_fields(client, uploaded):
    response = client.get("/simple/demo/")
    body = response.content.decode()
    assert response["Content-Type"] == "text/html"
    assert '<meta name="pypi:project-status" content="active">' in body
    assert "<h1>Links for demo</h1>" in body
    assert 'data-requires-python="&gt;=3.9"' in body
    assert body.count("data-core-metadata=") == 2
    assert body.count("data-dist-info-metadata=") == 2
    assert "#sha256=" in body
    assert body.rstrip().endswith(f"<!--SERIAL {response['X-PyPI-Last-Serial']}-->")


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("", "text/html"),
        ("*/*", "text/html"),
        ("application/json", "text/html"),
        (JSON, JSON),
        (V1_HTML, V1_HTML),
        ("application/vnd.pypi.simple.latest+json", JSON),
        (f"{JSON};q=0.5, {V1_HTML};q=0.9", V1_HTML),
        (f"{JSON}, text/html;q=0.01", JSON),
    ],
)
def test_content_negotiation(client, uploaded, accept, expected):
    response = client.get("/simple/demo/", HTTP_ACCEPT=accept)
    assert response["Content-Type"] == expected
    assert "Accept" in response["Vary"]


def test_format_query_selects_representation(client, uploaded):
    response = client.get(f"/simple/demo/?format={JSON}", HTTP_ACCEPT="text/html")
    assert response["Content-Type"] == JSON
    response = client.get("/simple/demo/", {"format": JSON})
    assert response["Content-Type"] == JSON
    assert json.loads(response.content)["name"] == "demo"


def test_non_normalized_name_redirects_and_unknown_is_404(client, uploaded):
    response = client.get("/simple/DEMO/")
    assert response.status_code == 301
    assert response["Location"] == "/simple/demo/"
    assert client.get("/simple/nothing-here/").status_code == 404


def test_etag_gives_304(client, uploaded):
    response = client.get("/simple/demo/")
    etag = response["ETag"]
    again = client.get("/simple/demo/", HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304
    assert again["ETag"] == etag
    json_response = client.get("/simple/demo/", HTTP_ACCEPT=JSON)
    assert json_response["ETag"] != etag
    assert client.get("/simple/demo/", HTTP_ACCEPT=JSON, HTTP_IF_NONE_MATCH=etag).status_code == 200


def test_yank_shows_in_both_formats_and_changes_serial(client, uploaded):
    before = client.get("/simple/demo/")
    from packages.releases import get_release

    yank_release(release=get_release(project_name="demo", version="1.0"), reason="broken <build>")
    html = client.get("/simple/demo/")
    assert int(html["X-PyPI-Last-Serial"]) > int(before["X-PyPI-Last-Serial"])
    assert html.content.decode().count('data-yanked="broken &lt;build&gt;"') == 2
    _response, data = get_json(client, "/simple/demo/")
    yanked = {f["filename"]: f["yanked"] for f in data["files"]}
    assert yanked["demo-1.0.tar.gz"] == "broken <build>"
    assert yanked["demo-2.0b1-py3-none-any.whl"] is False


def test_large_pages_are_gzipped(client):
    release = make_release(make_project("big"))
    make_files(release, 50)
    response = client.get("/simple/big/", HTTP_ACCEPT_ENCODING="gzip, deflate")
    assert response["Content-Encoding"] == "gzip"
    assert b"big-1.0-49-py3-none-any.whl" in gzip.decompress(response.content)
    plain = client.get("/simple/big/")
    assert "Content-Encoding" not in plain
    assert plain["ETag"] == response["ETag"]


def test_quarantined_project_hidden_from_index_and_listed_without_files(client):
    project = make_project("quiet", lifecycle_status="quarantine-enter")
    make_files(make_release(project), 2)
    make_project("loud")
    _response, index = get_json(client, "/simple/")
    assert [p["name"] for p in index["projects"]] == ["loud"]
    _response, detail = get_json(client, "/simple/quiet/")
    assert detail["project-status"] == {"status": "quarantined"}
    assert detail["files"] == [] and detail["versions"] == []


@pytest.mark.parametrize("accept", ["text/html", JSON])
def test_detail_query_count_is_constant(client, accept):
    small = make_release(make_project("small"))
    make_files(small, 1)
    large = make_release(make_project("large"))
    make_files(large, 500)
    counts = {}
    for name in ("small", "large"):
        for read in ("rendered", "stored"):
            cache.clear()
            local_pages.clear()
            with CaptureQueriesContext(connection) as queries:
                assert client.get(f"/simple/{name}/", HTTP_ACCEPT=accept).status_code == 200
            counts[name, read] = [q["sql"] for q in queries]
    assert len(counts["small", "rendered"]) == len(counts["large", "rendered"])
    # The first reader stored what it rendered; the next needs the project and that copy.
    assert len(counts["small", "stored"]) == len(counts["large", "stored"]) == 2
    # A cached page needs only the project lookup, small or large: one over LARGE_PAGE_BYTES
    # skips the shared cache (its stored copy is an object in storage, cheaper to read than
    # megabytes through Redis) but not the per-process one, so a hot big page is flat too.
    for name in ("small", "large"):
        stored = StoredDocument.objects.get(project__name=name, kind=kind_of_simple(accept))
        cache.clear()
        local_pages.clear()
        response = client.get(f"/simple/{name}/", HTTP_ACCEPT=accept)
        body = b"".join(response) if response.streaming else response.content
        assert (stored.body_key is not None) == (len(body) > LARGE_PAGE_BYTES)
        with CaptureQueriesContext(connection) as queries:
            again = client.get(f"/simple/{name}/", HTTP_ACCEPT=accept)
        assert again.status_code == 200 and again.content == body
        assert len(queries) == 1


def test_pages_cached_by_an_older_deploy_are_not_served(client, uploaded, settings):
    """A page stored under a key without this deploy's render version (an older format) is
    never what a reader gets."""
    from packages.models import Project

    project = Project.objects.get(normalized_name="demo")
    stale = RenderedPage(body=b"OLD FORMAT", etag='"old"', content_type="text/html")
    old_key = f"simple:{project.pk}:{project.last_serial}:text/html:{settings.FILES_BASE_URL}"
    cache.set_many({f"{old_key}|identity": stale, f"{old_key}|gzip": stale})
    local_pages.clear()

    body = client.get("/simple/demo/", HTTP_ACCEPT="text/html").content
    assert b"OLD FORMAT" not in body
    assert b"demo-1.0" in body
