"""The read side over real HTTP: ranges, PEP 658 metadata files, ETags, gzip and the JSON API."""

from __future__ import annotations

import gzip
import hashlib
import re
import zipfile

import pytest

from tests.e2e.helpers import normalize, upload_with_description

pytestmark = pytest.mark.e2e

JSON = "application/vnd.pypi.simple.v1+json"


def files_of(server, name: str) -> dict[str, dict]:
    return {entry["filename"]: entry for entry in server.simple_json(name)["files"]}


def test_range_requests_on_a_wheel(index_server, published):
    wheel = published["top"].wheel
    content = wheel.read_bytes()
    size = len(content)
    url = files_of(index_server, "e2e-top")[wheel.name]["url"]

    whole = index_server.http.get(url, timeout=30)
    assert whole.status_code == 200
    assert whole.content == content
    assert whole.headers["Accept-Ranges"] == "bytes"

    for header, start, end in [
        ("bytes=10-99", 10, 99),
        ("bytes=100-", 100, size - 1),
        ("bytes=-22", size - 22, size - 1),  # the zip's end-of-central-directory record
        (f"bytes=0-{size + 1000}", 0, size - 1),
    ]:
        part = index_server.http.get(url, headers={"Range": header}, timeout=30)
        assert part.status_code == 206, header
        assert part.content == content[start : end + 1], header
        assert part.headers["Content-Range"] == f"bytes {start}-{end}/{size}", header
        assert part.headers["Content-Length"] == str(end - start + 1), header
    assert index_server.http.get(url, headers={"Range": "bytes=-22"}).content.startswith(
        b"PK\x05\x06"
    )

    beyond = index_server.http.get(url, headers={"Range": f"bytes={size}-"}, timeout=30)
    assert beyond.status_code == 416
    assert beyond.headers["Content-Range"] == f"bytes */{size}"


def test_metadata_files_match_the_advertised_hash(index_server, published):
    for dist in published.values():
        name = normalize(dist.name)
        entry = files_of(index_server, name)[dist.wheel.name]
        response = index_server.http.get(f"{entry['url']}.metadata", timeout=30)
        assert response.status_code == 200
        digest = hashlib.sha256(response.content).hexdigest()
        assert entry["core-metadata"] == {"sha256": digest}
        assert entry["data-dist-info-metadata"] == {"sha256": digest}
        with zipfile.ZipFile(dist.wheel) as archive:
            (member,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
            assert response.content == archive.read(member)
        html = index_server.get(f"/simple/{name}/", headers={"Accept": "text/html"}).text
        assert f'data-core-metadata="sha256={digest}"' in html
        assert f'data-dist-info-metadata="sha256={digest}"' in html


@pytest.mark.parametrize("accept", ["text/html", JSON])
def test_simple_page_etag_gives_304(index_server, published, accept):
    first = index_server.get("/simple/e2e-top/", headers={"Accept": accept})
    assert first.status_code == 200
    etag = first.headers["ETag"]
    assert "Accept" in first.headers["Vary"]

    again = index_server.get("/simple/e2e-top/", headers={"Accept": accept, "If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["ETag"] == etag

    other = index_server.get("/simple/e2e-top/", headers={"If-None-Match": '"not-this-one"'})
    assert other.status_code == 200


def test_big_pages_are_gzipped_on_request(index_server, published):
    for path, accept in [("/simple/e2e-top/", JSON), ("/pypi/e2e-top/json", "*/*")]:
        plain = index_server.get(path, headers={"Accept": accept, "Accept-Encoding": "identity"})
        assert plain.status_code == 200
        assert "Content-Encoding" not in plain.headers
        assert len(plain.content) >= 1024  # big enough to be worth compressing

        packed = index_server.get(
            path, headers={"Accept": accept, "Accept-Encoding": "gzip"}, stream=True
        )
        raw = packed.raw.read(decode_content=False)
        assert packed.status_code == 200
        assert packed.headers["Content-Encoding"] == "gzip"
        assert "Accept-Encoding" in packed.headers["Vary"]
        assert len(raw) < len(plain.content)
        assert gzip.decompress(raw) == plain.content


def test_json_api(index_server, published):
    top = published["top"]
    data = index_server.project_json("e2e-top")

    info = data["info"]
    assert (info["name"], info["version"]) == ("e2e-top", "0.3.0")
    assert info["summary"] == "Test package e2e-top for the index's end-to-end tests"
    assert info["requires_python"] == ">=3.9"
    assert info["provides_extra"] == ["fancy"]
    assert set(info["requires_dist"]) == {"e2e_middle>=2", 'e2e-extra; extra == "fancy"'}
    assert info["yanked"] is False
    assert info["project_url"] == f"{index_server.url}/project/e2e-top/"

    urls = {entry["filename"]: entry for entry in data["urls"]}
    assert set(urls) == {top.wheel.name, top.sdist.name}
    for path in (top.wheel, top.sdist):
        entry = urls[path.name]
        assert entry["digests"]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert entry["size"] == path.stat().st_size
        assert entry["url"].startswith(f"{index_server.url}/packages/")
        assert index_server.http.get(entry["url"], timeout=30).content == path.read_bytes()
    assert urls[top.wheel.name]["packagetype"] == "bdist_wheel"
    assert urls[top.sdist.name]["packagetype"] == "sdist"
    assert data["releases"] == {"0.3.0": data["urls"]}
    assert data["ownership"]["roles"] == [{"role": "Owner", "user": index_server.username}]
    assert data["last_serial"] == int(index_server.get("/pypi/e2e-top/json").headers[
        "X-PyPI-Last-Serial"
    ])  # fmt: skip

    release = index_server.get("/pypi/e2e-top/0.3.0/json").json()
    assert "releases" not in release
    assert release["urls"] == data["urls"]
    assert index_server.get("/pypi/e2e-top/9.9/json").status_code == 404
    assert index_server.get("/pypi/no-such-project/json").status_code == 404


def test_names_are_normalized_and_redirected(index_server, published):
    moved = index_server.get("/pypi/e2e_base_lib/json", allow_redirects=False)
    assert moved.status_code == 301
    assert moved.headers["Location"] == "/pypi/e2e.base-lib/json"
    assert index_server.get("/pypi/e2e_base_lib/json").json()["info"]["name"] == "e2e.base-lib"

    moved = index_server.get("/simple/E2E_Middle/", allow_redirects=False)
    assert moved.status_code == 301
    assert moved.headers["Location"] == "/simple/e2e-middle/"

    index = index_server.get("/simple/", headers={"Accept": JSON}).json()
    names = [project["name"] for project in index["projects"]]
    # twine sends pkg_resources.safe_name(Name), so "e2e_middle" is displayed as "e2e-middle";
    # "e2e.base-lib" keeps its dot.
    assert {"e2e.base-lib", "e2e-middle", "e2e-top", "e2e-extra"} <= set(names)
    html = index_server.get("/simple/").text
    assert re.search(r'<a href="/simple/e2e-base-lib/">e2e\.base-lib</a>', html)


def test_a_large_json_document_is_sent_from_its_stored_file(index_server):
    """Over 256 KiB, the stored JSON API document is a file in storage; over 1 MiB gunicorn
    sends it from that file (sendfile), again on every read: the same bytes, headers and 304
    as a page from the cache."""
    name = "e2e-long-description"
    words = " ".join(hashlib.sha256(str(i).encode()).hexdigest()[:8] for i in range(130_000))
    upload_with_description(index_server, name, "1.0", words)
    path = f"/pypi/{name}/json"
    plain = index_server.get(path, headers={"Accept-Encoding": "identity"})
    assert plain.status_code == 200 and plain.json()["info"]["description"] == words
    assert int(plain.headers["Content-Length"]) == len(plain.content) > 1024 * 1024
    for _ in range(3):  # The process now knows the file's path: each read opens it again.
        repeat = index_server.get(path, headers={"Accept-Encoding": "identity"})
        assert repeat.content == plain.content and repeat.headers["ETag"] == plain.headers["ETag"]
    assert "Content-Disposition" not in plain.headers
    digest = plain.headers["ETag"].strip('"')
    stored = list((index_server.data_dir / "files" / "documents").rglob(digest))
    assert len(stored) == 1 and stored[0].read_bytes() == plain.content
    packed = index_server.get(path, headers={"Accept-Encoding": "gzip"}, stream=True)
    assert packed.headers["Content-Encoding"] == "gzip"
    assert packed.headers["ETag"] == plain.headers["ETag"]
    assert packed.headers["Content-Type"] == plain.headers["Content-Type"] == "application/json"
    assert gzip.decompress(packed.raw.read()) == plain.content
    head = index_server.http.head(f"{index_server.url}{path}", timeout=30)
    assert head.status_code == 200 and head.content == b""
    again = index_server.get(path, headers={"If-None-Match": plain.headers["ETag"]})
    assert again.status_code == 304 and again.content == b""


def test_an_upload_closes_its_connection_and_a_read_keeps_it(index_server):
    """pypi_site/gunicorn.py: a client's next upload must be free to go to another worker, so
    the answer to an upload closes the connection; reads keep theirs (pip reuses one)."""
    import requests

    from tests.dists import make_wheel
    from tests.e2e.helpers import post_wheel

    session = requests.Session()
    read = session.get(f"{index_server.url}/simple/", timeout=30)
    assert read.status_code == 200 and read.headers["Connection"].lower() == "keep-alive"
    filename, content = make_wheel("closing-demo", "1.0")
    upload = post_wheel(
        session, index_server.url, index_server.token,
        name="closing-demo", version="1.0", filename=filename, content=content,
    )  # fmt: skip
    assert upload.status_code == 200, upload.text
    assert upload.headers["Connection"].lower() == "close"
    refused = post_wheel(
        session, index_server.url, index_server.token,
        name="closing-demo", version="1.0", filename=filename, content=b"other bytes",
    )  # fmt: skip
    assert refused.status_code == 400 and refused.headers["Connection"].lower() == "close"
