from __future__ import annotations

import json

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from packages.releases import get_release, yank_release
from packages.responses import local_pages
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


@pytest.fixture
def uploaded(client):
    token = make_token(make_user("alice"))
    fields = {
        "summary": "A demo",
        "requires_dist": ["requests>=2", "rich; extra == 'fancy'"],
        "provides_extra": "fancy",
        "home_page": "https://example.invalid/home",
        "project_urls": "Source, https://example.invalid/src",
        "classifiers": "Programming Language :: Python :: 3",
    }
    for upload in [
        wheel_upload("Demo", "1.0", fields=fields),
        sdist_upload("Demo", "1.0", fields=fields),
        wheel_upload("Demo", "2.0", fields=fields),
        wheel_upload("Demo", "3.0a1"),
    ]:
        assert post_upload(client, upload, token).status_code == 200


def get(client, url: str) -> dict:
    response = client.get(url)
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/json"
    assert response["Access-Control-Allow-Origin"] == "*"
    return json.loads(response.content)


def test_project_json_describes_latest_final_release(client, uploaded):
    data = get(client, "/pypi/Demo/json")
    info = data["info"]
    assert info["name"] == "Demo"
    assert info["version"] == "2.0"  # 3.0a1 is a pre-release
    assert info["summary"] == "A demo"
    assert info["requires_dist"] == ["requests>=2", 'rich; extra == "fancy"']
    assert info["provides_extra"] == ["fancy"]
    assert info["project_urls"] == {
        "Homepage": "https://example.invalid/home",
        "Source": "https://example.invalid/src",
    }
    assert info["classifiers"] == ["Programming Language :: Python :: 3"]
    assert info["yanked"] is False
    assert info["project_url"] == "http://testserver/project/Demo/"
    assert info["downloads"] == {"last_day": -1, "last_month": -1, "last_week": -1}
    assert list(data["releases"]) == ["1.0", "2.0", "3.0a1"]
    assert [f["filename"] for f in data["releases"]["1.0"]] == [
        "demo-1.0-py3-none-any.whl",
        "demo-1.0.tar.gz",
    ]
    assert [f["filename"] for f in data["urls"]] == ["demo-2.0-py3-none-any.whl"]
    file = data["urls"][0]
    assert set(file["digests"]) == {"md5", "sha256", "blake2b_256"}
    assert file["packagetype"] == "bdist_wheel"
    assert file["upload_time_iso_8601"].endswith("Z")
    assert file["url"].startswith("http://testserver/packages/")
    assert data["vulnerabilities"] == []
    assert data["ownership"] == {"organization": None, "roles": [
        {"role": "Owner", "user": "alice"}]}  # fmt: skip
    assert data["last_serial"] > 0


def test_release_json(client, uploaded):
    data = get(client, "/pypi/Demo/1.0/json")
    assert data["info"]["version"] == "1.0"
    assert "releases" not in data
    assert len(data["urls"]) == 2
    assert get(client, "/pypi/Demo/1.0.0/json")["info"]["version"] == "1.0"


def test_yanked_latest_is_skipped(client, uploaded):
    yank_release(release=get_release(project_name="demo", version="2.0"), reason="oops")
    data = get(client, "/pypi/Demo/json")
    assert data["info"]["version"] == "1.0"
    yanked = get(client, "/pypi/Demo/2.0/json")
    assert yanked["info"]["yanked"] is True
    assert yanked["info"]["yanked_reason"] == "oops"
    assert yanked["urls"][0]["yanked_reason"] == "oops"


def test_redirects_and_404s(client, uploaded):
    response = client.get("/pypi/demo/json")
    assert response.status_code == 301
    assert response["Location"] == "/pypi/Demo/json"
    assert client.get("/pypi/nothing/json").status_code == 404
    assert client.get("/pypi/Demo/9.9/json").status_code == 404


def test_quarantined_project_is_404(client):
    project = make_project("quiet", lifecycle_status="quarantine-enter")
    make_files(make_release(project), 1)
    assert client.get("/pypi/quiet/json").status_code == 404


def test_query_count_is_constant(client):
    for name, count in (("small", 1), ("large", 500)):
        release = make_release(make_project(name))
        make_files(release, count)
    counts = {}
    for name in ("small", "large"):
        for read in ("rendered", "stored"):
            cache.clear()
            local_pages.clear()
            with CaptureQueriesContext(connection) as queries:
                assert client.get(f"/pypi/{name}/json").status_code == 200
            counts[name, read] = len(queries)
    assert counts["small", "rendered"] == counts["large", "rendered"]
    # The first reader stored what it rendered; the next needs the project and that copy.
    assert counts["small", "stored"] == counts["large", "stored"] == 2
