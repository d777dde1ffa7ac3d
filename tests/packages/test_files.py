from __future__ import annotations

import hashlib
import io
import zipfile

import pytest

from packages.models import File
from tests.factories import make_token, make_user, post_upload, sdist_upload, wheel_upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def wheel(client):
    upload = wheel_upload("demo", "1.0")
    assert post_upload(client, upload, make_token(make_user())).status_code == 200
    return File.objects.get(), upload.content


def read(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_file_is_served_whole_with_immutable_headers(client, wheel):
    file, content = wheel
    response = client.get(f"/packages/{file.path}")
    assert response.status_code == 200
    assert read(response) == content
    assert response["Content-Length"] == str(len(content))
    assert "immutable" in response["Cache-Control"]
    assert response["Accept-Ranges"] == "bytes"
    etag = response["ETag"]
    assert client.get(f"/packages/{file.path}", HTTP_IF_NONE_MATCH=etag).status_code == 304


@pytest.mark.parametrize(
    ("header", "span"),
    [("bytes=0-9", (0, 10)), ("bytes=10-", (10, None)), ("bytes=-22", (-22, None))],
)
def test_range_requests(client, wheel, header, span):
    file, content = wheel
    response = client.get(f"/packages/{file.path}", HTTP_RANGE=header)
    assert response.status_code == 206
    expected = content[span[0] : span[1]]
    assert read(response) == expected
    start = span[0] % len(content)
    assert response["Content-Range"] == f"bytes {start}-{start + len(expected) - 1}/{len(content)}"
    assert response["Content-Length"] == str(len(expected))


def test_unsatisfiable_range(client, wheel):
    file, content = wheel
    response = client.get(f"/packages/{file.path}", HTTP_RANGE=f"bytes={len(content) + 5}-")
    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{len(content)}"


def test_metadata_file_matches_published_hash(client, wheel):
    file, content = wheel
    response = client.get(f"/packages/{file.path}.metadata")
    assert response.status_code == 200
    body = read(response)
    assert hashlib.sha256(body).hexdigest() == file.metadata_sha256
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        assert body == archive.read("demo-1.0.dist-info/METADATA")


def test_unknown_file_is_404(client, wheel):
    file, _content = wheel
    assert client.get(f"/packages/{file.path[:-3]}zip").status_code == 404
    assert client.get("/packages/../../etc/passwd").status_code == 404


def test_sdist_has_no_metadata_file(client):
    upload = sdist_upload()
    assert post_upload(client, upload, make_token(make_user())).status_code == 200
    file = File.objects.get()
    assert client.get(f"/packages/{file.path}.metadata").status_code == 404
