"""Many app servers, proven: two gunicorn app servers and one `rqworker --with-scheduler` on one
PostgreSQL database, one Redis and one S3-compatible bucket (moto_server over HTTP), as behind
a load balancer (both servers have the same SITE_URL, SECRET_KEY and cache prefix).

- Uploads (real twine) alternate between the servers, and a read from either server right after
  each write shows it: simple pages, JSON API, project page, file bytes, home page counts, with
  the same serials and ETags on both.
- Failed logins spread over both servers count against one limit.
- A job enqueued by an app server is run by the worker process, not in the request.
- A server killed mid-upload loses nothing on the other, leaves no row and no object behind,
  and its temporary file is swept when it starts again.

Embedded mode (no DATABASE_URL and REDIS_URL) has no shared database or cache to prove this on,
so the module skips there; CI's PostgreSQL + Redis run covers it.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
import redis
import requests
from rq import Queue
from rq.job import Job

from tests.dists import make_wheel, metadata_text, upload_files, upload_form
from tests.e2e.helpers import REPO, login, normalize, storage_key, twine_upload
from tests.e2e.servers import (
    S3_CREDENTIALS,
    LiveServer,
    another_app_server,
    gunicorn_running,
    live_server_process,
    stop_process_group,
)

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not (os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL")),
        reason="many app servers need a shared database and cache: set DATABASE_URL and "
        "REDIS_URL (CI's PostgreSQL + Redis run does)",
    ),
]

BUCKET = "e2e-many-servers"
PROJECT = "e2e-many"
PASSWORD = "a long enough test password 9"
# The job queue (django-rq's "default") is not under CACHE_KEY_PREFIX: every live server of the
# suite enqueues into the same one, so it is emptied before this module's worker starts.
QUEUE = "default"


@dataclass
class Cluster:
    a: LiveServer
    b: LiveServer
    root: Path
    s3: object  # a boto3 S3 client on the bucket's moto server
    redis: redis.Redis
    worker_name: str
    worker_log: Path
    worker: subprocess.Popen | None = None

    @property
    def servers(self) -> tuple[LiveServer, LiveServer]:
        return self.a, self.b

    def bucket_keys(self) -> set[str]:
        keys = set()
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
            keys.update(item["Key"] for item in page.get("Contents", []))
        return keys

    def query(self, code: str) -> object:
        """Run `code` (which sets `result`) in `manage.py shell` on the shared database."""
        output = self.a.shell(f"import json\n{code}\nprint(json.dumps(result))")
        return json.loads(output.strip().splitlines()[-1])

    def start_worker(self) -> None:
        """`manage.py rqworker --with-scheduler` on the shared database, Redis and bucket, as
        README says to run it beside the app servers."""
        env = {**self.a.env, "DATA_DIR": str(self.root / "worker-data"), "PYTHONUNBUFFERED": "1"}
        with open(self.worker_log, "ab") as log:
            self.worker = subprocess.Popen(
                [sys.executable, "manage.py", "rqworker", "--with-scheduler",
                 "--name", self.worker_name, QUEUE],
                cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        wait_for(lambda: "Listening on" in self.worker_log.read_text(), what="the worker")


def wait_for(condition: Callable[[], bool], *, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


@pytest.fixture(scope="module")
def cluster(moto_endpoint, tmp_path_factory) -> Iterator[Cluster]:
    endpoint, _moto_log = moto_endpoint
    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=S3_CREDENTIALS["AWS_S3_REGION_NAME"],
        aws_access_key_id=S3_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=S3_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )
    s3.create_bucket(Bucket=BUCKET)
    connection = redis.Redis.from_url(os.environ["REDIS_URL"])
    Queue(QUEUE, connection=connection).empty()
    root = tmp_path_factory.mktemp("many-servers")
    settings = {
        **S3_CREDENTIALS,
        "AWS_STORAGE_BUCKET_NAME": BUCKET,
        "AWS_S3_ENDPOINT_URL": endpoint,
        # PyPI's ten failed logins, in a window long enough that the test never straddles two.
        "RATE_LIMIT_LOGIN_USER": "10/86400",
        "RATE_LIMIT_LOGIN_IP": "10/86400",
    }
    with (
        live_server_process(root / "a", **settings) as a,
        another_app_server(a, root / "b") as b,
    ):
        cluster = Cluster(
            a=a, b=b, root=root, s3=s3, redis=connection,
            worker_name=f"e2e-worker-{secrets.token_hex(4)}", worker_log=root / "worker.log",
        )  # fmt: skip
        try:
            yield cluster
        finally:
            if cluster.worker is not None:
                stop_process_group(cluster.worker)
            Queue(QUEUE, connection=connection).empty()
            connection.close()


def build_wheel(directory: Path, version: str, *, description: str = "") -> Path:
    metadata = metadata_text(
        PROJECT, version, f"Description-Content-Type: text/markdown\n\n{description}\n"
    )
    filename, content = make_wheel(
        PROJECT, version, metadata=metadata, payload=f"VERSION = {version!r}\n".encode()
    )
    path = directory / filename
    path.write_bytes(content)
    return path


def home_counts(server: LiveServer) -> dict[str, int]:
    page = server.get("/")
    assert page.status_code == 200
    pairs = re.findall(r"<dt>(\w+)</dt><dd>([\d,]+)</dd>", page.text)
    assert pairs, page.text
    return {label.rstrip("s"): int(value.replace(",", "")) for label, value in pairs}


def read_everything(server: LiveServer) -> dict[str, object]:
    """What a reader sees of PROJECT on one server, with the serial and ETag of each page."""
    html = server.get(f"/simple/{PROJECT}/")
    as_json = server.get(
        f"/simple/{PROJECT}/", headers={"Accept": "application/vnd.pypi.simple.v1+json"}
    )
    api = server.get(f"/pypi/{PROJECT}/json")
    root = server.get("/simple/")
    page = server.get(f"/project/{PROJECT}/")
    for response in (html, as_json, api, root, page):
        assert response.status_code == 200, (response.url, response.text)
    files = {entry["filename"]: entry for entry in as_json.json()["files"]}
    return {
        "serials": {
            name: int(response.headers["X-PyPI-Last-Serial"])
            for name, response in (("html", html), ("json", as_json), ("api", api))
        },
        "root_serial": int(root.headers["X-PyPI-Last-Serial"]),
        "etags": {
            name: response.headers["ETag"]
            for name, response in (("html", html), ("json", as_json), ("api", api))
        },
        "html_files": set(re.findall(r">([^<>]+\.whl)</a>", html.text)),
        "json_files": set(files),
        "hashes": {name: entry["hashes"]["sha256"] for name, entry in files.items()},
        "api_version": api.json()["info"]["version"],
        "api_releases": set(api.json()["releases"]),
        "page_title": re.search(r"<title>([^<]*)</title>", page.text).group(1).strip(),
        "in_root": f">{PROJECT}<" in root.text,
        "counts": home_counts(server),
    }


def download(server: LiveServer, path: Path) -> bytes:
    """The file's bytes through `server`'s /packages/ URL (a redirect into the bucket)."""
    content = path.read_bytes()
    key = storage_key(hashlib.blake2b(content, digest_size=32).hexdigest(), path.name)
    response = server.get(f"/packages/{key}", allow_redirects=False)
    assert response.status_code == 302, response.text
    return server.http.get(response.headers["Location"], timeout=30).content


def release_id(cluster: Cluster, version: str) -> int:
    return cluster.query(
        "from packages.models import Release\n"
        f"result = Release.objects.get(project__normalized_name={PROJECT!r}, "
        f"version={version!r}).pk"
    )


def test_a_job_enqueued_by_an_app_server_is_done_by_the_worker(cluster, tmp_path):
    """No worker runs yet: the upload's description job waits on the queue (it was not run in
    the request); once the worker starts, it runs the job and both servers show the result."""
    assert cluster.worker is None  # Only this test starts it.
    wheel = build_wheel(tmp_path, "0.1", description="Rendered by the *worker*")
    twine_upload(cluster.b.url, cluster.b.token, wheel)
    release = release_id(cluster, "0.1")

    queue = Queue(QUEUE, connection=cluster.redis)
    (job,) = [
        job
        for job in queue.get_jobs()
        if job.func_name == "packages.jobs.render_description" and job.args == (release,)
    ]
    for server in cluster.servers:
        page = server.get(f"/project/{PROJECT}/").text
        assert '<pre class="plain-description">Rendered by the *worker*' in page
        assert "<em>worker</em>" not in page

    cluster.start_worker()
    for server in cluster.servers:
        wait_for(
            lambda s=server: "<em>worker</em>" in s.get(f"/project/{PROJECT}/").text,
            what=f"the rendered description on {server.url}",
        )
    job = Job.fetch(job.id, connection=cluster.redis)
    assert job.get_status() == "finished"
    assert job.worker_name == cluster.worker_name
    worker_log = cluster.worker_log.read_text()
    assert f"packages.jobs.render_description({release})" in worker_log
    assert f"on worker {cluster.worker_name}" in worker_log
    for server in cluster.servers:
        assert "Job queue unavailable" not in server.log()
        assert "Traceback" not in server.log()


def test_uploads_alternate_and_each_read_on_either_server_shows_the_latest(cluster, tmp_path):
    previous_serial = 0
    previous_counts = home_counts(cluster.a)
    uploaded: list[Path] = []
    for number in range(6):
        writer = cluster.servers[number % 2]
        version = f"1.{number}"
        wheel = build_wheel(tmp_path, version, description=f"Version {version}")
        twine_upload(writer.url, writer.token, wheel)
        uploaded.append(wheel)

        seen = [read_everything(server) for server in cluster.servers]
        assert seen[0] == seen[1], f"the servers disagree after uploading {version} to {writer.url}"
        view = seen[0]
        serials = set(view["serials"].values())
        assert len(serials) == 1, view["serials"]
        (serial,) = serials
        assert serial > previous_serial
        assert view["root_serial"] >= serial
        previous_serial = serial
        names = {path.name for path in uploaded}
        assert names <= view["html_files"]
        assert names <= view["json_files"]
        assert view["hashes"][wheel.name] == hashlib.sha256(wheel.read_bytes()).hexdigest()
        assert view["api_version"] == version
        assert {p.name.split("-")[1] for p in uploaded} <= view["api_releases"]
        assert view["page_title"].startswith(f"{PROJECT} {version}")
        assert view["in_root"]
        assert view["counts"]["file"] == previous_counts["file"] + 1
        assert view["counts"]["release"] == previous_counts["release"] + 1
        previous_counts = view["counts"]
        for server in cluster.servers:
            assert download(server, wheel) == wheel.read_bytes()


def test_failed_logins_spread_over_both_servers_share_one_limit(cluster):
    cluster.a.shell(
        "from django.contrib.auth import get_user_model; "
        "get_user_model().objects.create_user('dana', email='dana@example.com', "
        f"password={PASSWORD!r})"
    )
    statuses = []
    for attempt in range(10):
        server = cluster.servers[attempt % 2]
        server.http.close()
        statuses.append(login(server.http, server.url, username="dana", password="wrong password"))
    assert statuses == [200] * 10
    # Five failures on each server: the eleventh is refused on either, even with the password.
    for server in cluster.servers:
        server.http.close()
        assert login(server.http, server.url, username="dana", password=PASSWORD) == 429


@contextlib.contextmanager
def slow_upload(server: LiveServer, *, name: str, size: int) -> Iterator[Callable[[int], None]]:
    """POST a wheel of `size` random bytes to `server` without finishing the body; yields a
    function that sends `n` more bytes of it. The connection is closed afterwards."""
    version = "1.0"
    content = os.urandom(size)
    filename = f"{name.replace('-', '_')}-{version}-py3-none-any.whl"
    request = requests.Request(
        "POST",
        f"{server.url}/legacy/",
        data=upload_form(name=name, version=version, content=content),
        files=upload_files(filename, content),
        auth=("__token__", server.token),
    ).prepare()
    body = request.body
    connection = http.client.HTTPConnection(server.url.removeprefix("http://"), timeout=30)
    connection.putrequest("POST", "/legacy/", skip_accept_encoding=True)
    for header, value in request.headers.items():
        connection.putheader(header, value)
    connection.endheaders()
    sent = 0

    def send(count: int) -> None:
        nonlocal sent
        connection.send(body[sent : sent + count])
        sent += count
        assert sent < len(body)  # Never the whole body.

    try:
        yield send
    finally:
        connection.close()


def temp_uploads(server: LiveServer) -> list[Path]:
    return sorted((server.data_dir / "tmp").glob("tmp*.upload*"))


def test_a_server_killed_mid_upload_loses_nothing_and_leaves_no_orphan(cluster, tmp_path):
    killed_name = "e2e-many-killed"
    before = build_wheel(tmp_path, "2.0", description="before the kill")
    twine_upload(cluster.b.url, cluster.b.token, before)
    assert temp_uploads(cluster.b) == []

    with slow_upload(cluster.b, name=killed_name, size=16 * 1024 * 1024) as send:
        # Stream the body in slowly until the server's temporary file shows it arriving.
        for _ in range(50):
            send(64 * 1024)
            time.sleep(0.02)
            if any(p.stat().st_size > 0 for p in temp_uploads(cluster.b)):
                break
        (partial,) = temp_uploads(cluster.b)
        # The other server takes an upload while this one is still receiving.
        during = build_wheel(tmp_path, "2.1", description="during the slow upload")
        twine_upload(cluster.a.url, cluster.a.token, during)
        os.killpg(cluster.b.process.pid, signal.SIGKILL)
        cluster.b.process.wait(timeout=15)
        with contextlib.suppress(OSError):
            send(64 * 1024)  # Nobody reads it now.

    # The surviving server keeps taking uploads and serving every file whole.
    after = build_wheel(tmp_path, "2.2", description="after the kill")
    twine_upload(cluster.a.url, cluster.a.token, after)
    view = read_everything(cluster.a)
    assert view["api_version"] == "2.2"
    for wheel in (before, during, after):
        assert wheel.name in view["json_files"]
        assert download(cluster.a, wheel) == wheel.read_bytes()
    assert cluster.a.get(f"/pypi/{killed_name}/json").status_code == 404
    assert cluster.a.get(f"/simple/{killed_name}/").status_code == 404

    # No partial rows: nothing of the killed upload in any table that an upload writes.
    leftovers = cluster.query(
        "from packages.models import File, FilenameRegistry, JournalEntry, Project, Release\n"
        f"name = {killed_name!r}\n"
        "result = [Project.objects.filter(normalized_name=name).count(), "
        "Release.objects.filter(project__normalized_name=name).count(), "
        "File.objects.filter(filename__startswith=name.replace('-', '_')).count(), "
        "FilenameRegistry.objects.filter(filename__startswith=name.replace('-', '_')).count(), "
        "JournalEntry.objects.filter(name=name).count()]"
    )
    assert leftovers == [0, 0, 0, 0, 0]
    # No orphan: the bucket holds exactly the objects the File rows name.
    rows = cluster.query(
        "from packages.models import File\n"
        "result = [[f.path, f.metadata_path if f.metadata_sha256 else None] "
        "for f in File.objects.all()]"
    )
    expected = {key for pair in rows for key in pair if key}
    assert cluster.bucket_keys() == expected
    assert not any(normalize(killed_name).replace("-", "_") in key for key in expected)

    # The killed worker could not delete its temporary file; the next start sweeps it once it
    # is older than any live upload could be (24 hours, as `clean_upload_temp` says).
    assert partial.exists()
    old = time.time() - 25 * 3600
    os.utime(partial, (old, old))
    with gunicorn_running(cluster.b):
        assert not partial.exists()
        assert "Deleted 1 temporary upload file" in cluster.b.log()
        restarted = read_everything(cluster.b)
        assert restarted == read_everything(cluster.a)
        assert download(cluster.b, after) == after.read_bytes()
