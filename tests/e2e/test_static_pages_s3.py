"""Static simple pages in a bucket: with S3 storage (a real moto_server) the app PUTs each
project's pages and the root as objects, with their types and version, for the bucket or a CDN
in front of it to serve."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import time

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.e2e.helpers import normalize, twine_upload
from tests.e2e.servers import S3_CREDENTIALS as CREDENTIALS
from tests.e2e.servers import live_server_process
from tests.e2e.workers import rq_worker

pytestmark = pytest.mark.e2e

BUCKET = "e2e-static-pages"
JSON = "application/vnd.pypi.simple.v1+json"


def test_pages_are_written_to_the_bucket(moto_endpoint, dists, tmp_path):
    endpoint, _log = moto_endpoint
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=CREDENTIALS["AWS_S3_REGION_NAME"],
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )
    client.create_bucket(Bucket=BUCKET)
    settings = {
        **CREDENTIALS,
        "AWS_STORAGE_BUCKET_NAME": BUCKET,
        "AWS_S3_ENDPOINT_URL": endpoint,
        "STATIC_SIMPLE_PAGES": "1",
    }
    base = dists["base"]
    name = normalize(base.name)
    with live_server_process(tmp_path, **settings) as server, rq_worker(server):
        twine_upload(server.url, server.token, base.wheel, base.sdist)
        app_html = server.get(f"/simple/{name}/", headers={"Accept-Encoding": "identity"})
        app_json = server.get(
            f"/simple/{name}/", headers={"Accept": JSON, "Accept-Encoding": "identity"}
        )
        serial = app_html.headers["X-PyPI-Last-Serial"]

        root_serial = server.get("/simple/").headers["X-PyPI-Last-Serial"]
        deadline = time.monotonic() + 30
        # The worker writes them after the upload's commit, the root (and its alias) last.
        for key, wanted in (
            (f"simple/{name}/index.html", serial),
            ("simple/index.html", root_serial),
        ):
            while True:
                with contextlib.suppress(ClientError):
                    head = client.head_object(Bucket=BUCKET, Key=key)
                    if head["Metadata"]["page-version"].split(".")[0] == wanted:
                        break
                assert time.monotonic() < deadline, key
                time.sleep(0.2)

        def get(key: str):
            return client.get_object(Bucket=BUCKET, Key=key)

        html = get(f"simple/{name}/index.html")
        assert html["ContentType"] == "text/html"
        assert html["Body"].read() == app_html.content
        # S3's ETag of a single PUT is the md5 of the bytes: the app's ETag.
        assert html["ETag"] == app_html.headers["ETag"]
        as_json = get(f"simple/{name}/index.v1_json")
        assert as_json["ContentType"] == JSON
        body = as_json["Body"].read()
        assert body == app_json.content
        assert f'"{hashlib.md5(body).hexdigest()}"' == app_json.headers["ETag"]
        assert gzip.decompress(get(f"simple/{name}/index.v1_json.gz")["Body"].read()) == body
        root = get("simple/_root/index.html")["Body"].read()
        assert root == server.get("/simple/", headers={"Accept-Encoding": "identity"}).content
        assert f'href="/simple/{name}/"'.encode() in root
        alias = get("simple/index.html")
        assert alias["Body"].read() == root
        assert alias["ContentType"] == "text/html"
