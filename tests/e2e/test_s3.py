"""Files in S3: a second live index whose storage is moto's S3 server, spoken to over HTTP.

boto3 is never patched: the index (through django-storages) and these tests both talk to a real
`moto_server` process, as they would to any S3-compatible store.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass

import boto3
import pytest

from tests.dists import make_wheel, metadata_text
from tests.e2e.helpers import (
    http_session,
    installed,
    make_venv,
    normalize,
    pip_install,
    post_wheel,
    storage_key,
    twine_upload,
    upload_with_description,
    uv_pip_install,
)
from tests.e2e.servers import S3_CREDENTIALS, LiveServer, live_server_process

pytestmark = pytest.mark.e2e

BUCKET = "e2e-index-files"
# Small enough that one test can go over it, far above the sample projects' files.
UPLOAD_LIMIT = 64 * 1024


@dataclass
class S3Index:
    server: LiveServer
    endpoint: str
    client: object  # a boto3 S3 client on the same moto server
    moto_log: object

    def keys(self) -> set[str]:
        listing = self.client.list_objects_v2(Bucket=BUCKET)
        return {item["Key"] for item in listing.get("Contents", [])}

    def body(self, key: str) -> bytes:
        return self.client.get_object(Bucket=BUCKET, Key=key)["Body"].read()


@pytest.fixture(scope="module")
def s3(moto_endpoint, tmp_path_factory) -> Iterator[S3Index]:
    endpoint, moto_log = moto_endpoint
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=S3_CREDENTIALS["AWS_S3_REGION_NAME"],
        aws_access_key_id=S3_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=S3_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )
    client.create_bucket(Bucket=BUCKET)
    settings = {
        **S3_CREDENTIALS,
        "AWS_STORAGE_BUCKET_NAME": BUCKET,
        "AWS_S3_ENDPOINT_URL": endpoint,
        "DEFAULT_UPLOAD_LIMIT": str(UPLOAD_LIMIT),
    }
    with live_server_process(tmp_path_factory.mktemp("s3-server"), **settings) as server:
        yield S3Index(server=server, endpoint=endpoint, client=client, moto_log=moto_log)


@pytest.fixture(scope="module")
def s3_published(s3, dists):
    """e2e.base-lib and e2e_middle (which needs it), wheel and sdist each, uploaded by twine."""
    chain = [dists["base"], dists["middle"]]
    twine_upload(s3.server.url, s3.server.token, *(p for d in chain for p in (d.wheel, d.sdist)))
    return chain


def key_of(path) -> str:
    content = path.read_bytes()
    return storage_key(hashlib.blake2b(content, digest_size=32).hexdigest(), path.name)


def test_upload_stores_file_and_metadata_in_the_bucket(s3, s3_published):
    expected = set()
    for dist in s3_published:
        entries = {e["filename"]: e for e in s3.server.simple_json(normalize(dist.name))["files"]}
        for path in (dist.wheel, dist.sdist):
            key = key_of(path)
            expected.add(key)
            assert s3.body(key) == path.read_bytes()
            assert entries[path.name]["url"] == f"{s3.server.url}/packages/{key}"
        metadata = s3.body(f"{key_of(dist.wheel)}.metadata")
        expected.add(f"{key_of(dist.wheel)}.metadata")
        with zipfile.ZipFile(dist.wheel) as archive:
            (member,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
            assert metadata == archive.read(member)
        digest = hashlib.sha256(metadata).hexdigest()
        assert entries[dist.wheel.name]["core-metadata"] == {"sha256": digest}
    assert s3.keys() == expected
    local = s3.server.data_dir / "files"
    assert not local.exists() or not any(local.rglob("*"))  # nothing went to local disk


def test_file_urls_redirect_to_the_bucket(s3, s3_published):
    base = s3_published[0]
    paths = {key_of(p): p.read_bytes() for p in (base.wheel, base.sdist)}
    paths[f"{key_of(base.wheel)}.metadata"] = s3.body(f"{key_of(base.wheel)}.metadata")
    for key, content in paths.items():
        response = s3.server.get(f"/packages/{key}", allow_redirects=False)
        assert response.status_code == 302, key
        location = response.headers["Location"]
        assert location.startswith(f"{s3.endpoint}/{BUCKET}/{key}"), location
        followed = s3.server.http.get(location, timeout=30)
        assert followed.status_code == 200
        # Opaque bytes: no Content-Encoding, which would make clients unpack a .tar.gz.
        assert "Content-Encoding" not in followed.headers, (key, followed.headers)
        assert followed.content == content
        # Installers may read a wheel's tail with a range; the bucket answers that itself.
        tail = s3.server.http.get(location, headers={"Range": "bytes=-22"}, timeout=30)
        assert tail.status_code == 206
        assert tail.content == content[-22:]
    missing = storage_key("ab" * 32, base.wheel.name)
    assert s3.server.get(f"/packages/{missing}", allow_redirects=False).status_code == 404


def test_pip_and_uv_install_from_the_s3_backed_index(s3, s3_published, tmp_path):
    index_url = f"{s3.server.url}/simple/"
    expected = {"e2e-middle": "2.1", "e2e-base-lib": "1.0.0"}

    python = make_venv(tmp_path / "pip-venv")
    report = tmp_path / "report.json"
    pip_install(python, index_url, "e2e_middle", report=report)
    assert installed(python) == expected
    for item in json.loads(report.read_text())["install"]:
        assert item["download_info"]["url"].startswith(f"{s3.server.url}/packages/")

    python = make_venv(tmp_path / "uv-venv")
    uv_pip_install(python, index_url, "e2e_middle")
    assert installed(python) == expected


def test_refused_uploads_leave_nothing_in_the_bucket(s3, s3_published):
    before = s3.keys()
    session = http_session()

    # Refused by the archive checks, before anything is stored.
    filename, content = make_wheel(
        "e2e-s3-misnamed", "1.0", metadata=metadata_text("e2e-someone-else", "1.0")
    )
    response = post_wheel(
        session, s3.server.url, s3.server.token,
        name="e2e-s3-misnamed", version="1.0", filename=filename, content=content,
    )  # fmt: skip
    assert response.status_code == 400, response.text
    assert s3.keys() == before

    # Refused with the rows (the per-file limit is checked under the project's lock), after the
    # file and its metadata were stored: both objects are removed again.
    filename, content = make_wheel("e2e-s3-big", "1.0", payload=os.urandom(UPLOAD_LIMIT + 1024))
    response = post_wheel(
        session, s3.server.url, s3.server.token,
        name="e2e-s3-big", version="1.0", filename=filename, content=content,
    )  # fmt: skip
    assert response.status_code == 400, response.text
    assert "File too large" in response.text
    assert s3.keys() == before
    for name in ("e2e-s3-misnamed", "e2e-s3-big"):
        assert s3.server.get(f"/pypi/{name}/json").status_code == 404


def wheel_metadata(content: bytes) -> bytes:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        (member,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        return archive.read(member)


def test_uploaded_objects_carry_their_size_and_sha256(s3, s3_published):
    for dist in s3_published:
        for path in (dist.wheel, dist.sdist):
            content = path.read_bytes()
            head = s3.client.head_object(Bucket=BUCKET, Key=key_of(path))
            assert head["ContentLength"] == len(content)
            assert head["Metadata"] == {"sha256": hashlib.sha256(content).hexdigest()}


def test_wrong_objects_at_the_key_are_replaced_not_reused(s3):
    """What an interrupted writer or a damaged bucket leaves at a key is never published: a
    truncated wheel and a metadata object of the right size but other bytes (no sha256
    metadata, as written by hand) are both written again whole."""
    filename, content = make_wheel("e2e-s3-damaged", "1.0", payload=os.urandom(4096))
    key = storage_key(hashlib.blake2b(content, digest_size=32).hexdigest(), filename)
    metadata = wheel_metadata(content)
    s3.client.put_object(Bucket=BUCKET, Key=key, Body=content[: len(content) // 2])
    s3.client.put_object(Bucket=BUCKET, Key=f"{key}.metadata", Body=metadata[::-1])

    response = post_wheel(
        http_session(), s3.server.url, s3.server.token,
        name="e2e-s3-damaged", version="1.0", filename=filename, content=content,
    )  # fmt: skip
    assert response.status_code == 200, response.text

    for object_key, body in ((key, content), (f"{key}.metadata", metadata)):
        assert s3.body(object_key) == body
        head = s3.client.head_object(Bucket=BUCKET, Key=object_key)
        assert head["ContentLength"] == len(body)
        assert head["Metadata"] == {"sha256": hashlib.sha256(body).hexdigest()}
        location = s3.server.get(f"/packages/{object_key}", allow_redirects=False)
        assert location.status_code == 302
        served = s3.server.http.get(location.headers["Location"], timeout=30).content
        assert hashlib.sha256(served).hexdigest() == hashlib.sha256(body).hexdigest()


def test_readiness_checks_the_bucket_and_leaves_nothing_in_it(s3):
    before = s3.keys()
    response = s3.server.get("/_health/ready")
    assert response.status_code == 200, response.text
    assert response.json()["checks"]["storage"]["status"] == "ok"
    assert s3.keys() == before  # its probe object is deleted again


def document_keys(s3: S3Index) -> set[str]:
    listed = s3.keys()
    return {key for key in listed if key.startswith("documents/")}


def test_a_large_json_document_is_kept_and_served_from_the_bucket(s3):
    """A JSON API document over 256 KiB (a long description) is stored in the bucket, not in
    its row, served byte for byte in both forms with its ETag, and replaced whole."""
    name = "e2e-s3-long-description"
    words = " ".join(hashlib.sha256(str(i).encode()).hexdigest()[:8] for i in range(40_000))
    upload_with_description(s3.server, name, "1.0", words)
    first = s3.server.get(f"/pypi/{name}/json", headers={"Accept-Encoding": "identity"})
    assert first.status_code == 200 and first.json()["info"]["description"] == words
    assert len(first.content) > 256 * 1024
    keys = document_keys(s3)
    digest = first.headers["ETag"].strip('"')
    assert {key.rsplit("/", 1)[1] for key in keys} == {digest, f"{digest}.gz"}
    (plain_key,) = [key for key in keys if not key.endswith(".gz")]
    assert s3.body(plain_key) == first.content
    assert gzip.decompress(s3.body(f"{plain_key}.gz")) == first.content
    packed = s3.server.get(f"/pypi/{name}/json", headers={"Accept-Encoding": "gzip"}, stream=True)
    assert packed.headers["Content-Encoding"] == "gzip"
    assert packed.headers["ETag"] == first.headers["ETag"]
    assert gzip.decompress(packed.raw.read()) == first.content
    again = s3.server.get(f"/pypi/{name}/json", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304

    upload_with_description(s3.server, name, "1.1", words.upper())
    second = s3.server.get(f"/pypi/{name}/json", headers={"Accept-Encoding": "identity"})
    assert second.json()["info"]["description"] == words.upper()
    replaced = document_keys(s3)
    assert len(replaced) == 2 and not replaced & keys
