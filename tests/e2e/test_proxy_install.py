"""pip and uv install through the upstream proxy from this index alone: a chain where some
projects are local and some only upstream (a static PEP 691 tree, tests/proxy/upstream_server.py),
a local project shadowing its upstream twin, and the same installs after the upstream stops.
Also: concurrent first downloads of one file reach the upstream once."""

from __future__ import annotations

import hashlib
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
import requests

from tests.dists import make_wheel, metadata_text
from tests.e2e.helpers import installed, make_venv, pip_install, post_wheel, uv_pip_install
from tests.e2e.servers import live_server_process
from tests.proxy.upstream_server import StaticUpstream

pytestmark = pytest.mark.e2e


@pytest.fixture
def upstream():
    server = StaticUpstream().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def proxy_index(tmp_path, upstream):
    with live_server_process(
        tmp_path / "index",
        UPSTREAM_INDEX_URL=upstream.url,
        UPSTREAM_PAGE_TTL="0",  # revalidate on every read, so "upstream stopped" is exercised
        UPSTREAM_TIMEOUT="5",
        MIN_RELEASE_AGE="3d",
    ) as server:
        yield server


def upload(server, name: str, version: str, requires: tuple[str, ...] = ()) -> None:
    extra = "".join(f"Requires-Dist: {r}\n" for r in requires)
    filename, content = make_wheel(name, version, metadata=metadata_text(name, version, extra))
    response = post_wheel(
        server.http, server.url, server.token,
        name=name, version=version, filename=filename, content=content,
    )  # fmt: skip
    assert response.status_code == 200, response.text


def test_pip_and_uv_install_local_and_upstream_projects(proxy_index, upstream, tmp_path):
    server = proxy_index
    upstream.add_wheel("up-base", "1.0")
    upstream.add_wheel("up-mid", "2.0", requires=("up-base>=1",))
    upstream.add_wheel("up-mid", "3.0", age=timedelta(hours=2), requires=("up-base>=1",))
    upstream.add_wheel("twin", "7.0")
    # The twin is ours: staff allow the name, then it is uploaded and shadows the upstream's.
    server.shell(
        "from proxy.models import AllowedLocalName; AllowedLocalName.objects.create("
        "name='twin', normalized_name='twin', reason='our package')"
    )
    upload(server, "twin", "1.0")
    upload(server, "corp-app", "1.0", requires=("up-mid", "twin"))
    refused = post_wheel(
        server.http, server.url, server.token, name="up-base", version="5.0",
        filename="up_base-5.0-py3-none-any.whl", content=make_wheel("up-base", "5.0")[1],
    )  # fmt: skip
    assert refused.status_code == 400 and "upstream index" in refused.reason

    index_url = f"{server.url}/simple/"
    expected = {"corp-app": "1.0", "up-mid": "2.0", "up-base": "1.0", "twin": "1.0"}
    pip_python = make_venv(tmp_path / "pip-venv")
    pip_install(pip_python, index_url, "corp-app")
    assert {k: v for k, v in installed(pip_python).items() if k in expected} == expected
    uv_python = make_venv(tmp_path / "uv-venv")
    uv_pip_install(uv_python, index_url, "corp-app")
    assert {k: v for k, v in installed(uv_python).items() if k in expected} == expected

    # The upstream files came through this index into its storage, each fetched once.
    stored = {p.name for p in (server.data_dir / "files").rglob("*.whl")}
    assert {"up_base-1.0-py3-none-any.whl", "up_mid-2.0-py3-none-any.whl"} <= stored
    assert "twin-7.0-py3-none-any.whl" not in stored
    assert upstream.file_requests("up_mid-2.0-py3-none-any.whl") == 1
    assert upstream.file_requests("up_mid-3.0-py3-none-any.whl") == 0  # too young
    assert upstream.page_requests("twin") == 0  # allowed name, local: never asked

    upstream.stop()
    for name, install in (("pip-again", pip_install), ("uv-again", uv_pip_install)):
        python = make_venv(tmp_path / name)
        install(python, index_url, "corp-app")
        assert {k: v for k, v in installed(python).items() if k in expected} == expected
    stale = server.get("/simple/up-mid/")
    assert stale.status_code == 200 and "X-Upstream-Stale" in stale.headers


def test_concurrent_first_downloads_reach_upstream_once(proxy_index, upstream):
    entry = upstream.add_wheel("slow-lib", "1.0", payload=b"# padding\n" * 20_000)
    upstream.file_delay = 0.3  # five chunks: about 1.5 s for the whole file
    page = proxy_index.simple_json("slow-lib")
    url = page["files"][0]["url"]

    def download(_: int) -> bytes:
        return requests.get(url, timeout=60).content

    with ThreadPoolExecutor(max_workers=6) as pool:
        bodies = list(pool.map(download, range(6)))
    assert all(hashlib.sha256(b).hexdigest() == entry.sha256 for b in bodies)
    assert upstream.file_requests(entry.filename) == 1


def _peak_rss_kib(master_pid: int) -> int:
    """The largest peak resident size (VmHWM) among gunicorn's workers."""
    peaks = []
    for child in Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split():
        status = Path(f"/proc/{child}/status").read_text()
        line = next(line for line in status.splitlines() if line.startswith("VmHWM"))
        peaks.append(int(line.split()[1]))
    return max(peaks)


def test_a_100_mb_file_streams_through_without_being_held_in_memory(proxy_index, upstream):
    entry = upstream.add_big_file("big-data", "1.0", megabytes=100)
    url = proxy_index.simple_json("big-data")["files"][0]["url"]
    before = _peak_rss_kib(proxy_index.process.pid)
    digest, size = hashlib.sha256(), 0
    with requests.get(url, stream=True, timeout=120) as response:
        assert response.status_code == 200
        for chunk in response.iter_content(1024 * 1024):
            digest.update(chunk)
            size += len(chunk)
    assert (size, digest.hexdigest()) == (entry.size, entry.sha256)
    # The last chunk is checked, then stored: the worker does that after the client has it all.
    deadline = time.monotonic() + 60
    while not (stored := list((proxy_index.data_dir / "files").rglob(entry.filename))):
        assert time.monotonic() < deadline, "the file never reached storage"
        time.sleep(0.2)
    assert stored[0].stat().st_size == entry.size
    # The worker's peak memory grew by far less than the file.
    assert _peak_rss_kib(proxy_index.process.pid) - before < 30 * 1024
    # From storage now, with ranges, and without the upstream.
    upstream.stop()
    tail = requests.get(url, headers={"Range": "bytes=-10"}, timeout=30)
    assert tail.status_code == 206 and len(tail.content) == 10


def test_another_instance_of_this_index_as_the_upstream(tmp_path):
    """The upstream is a second live index (its PEP 691 pages, PEP 658 metadata, file URLs):
    pip installs through the proxy, which fetches each file from it once."""
    with live_server_process(tmp_path / "upstream") as origin:
        upload(origin, "origin-base", "1.0")
        upload(origin, "origin-top", "2.0", requires=("origin-base",))
        with live_server_process(
            tmp_path / "proxy", UPSTREAM_INDEX_URL=f"{origin.url}/simple/"
        ) as proxy:
            python = make_venv(tmp_path / "venv")
            pip_install(python, f"{proxy.url}/simple/", "origin-top")
            assert installed(python)["origin-top"] == "2.0"
            assert installed(python)["origin-base"] == "1.0"
            stored = {p.name for p in (proxy.data_dir / "files").rglob("*.whl")}
            assert stored == {"origin_base-1.0-py3-none-any.whl", "origin_top-2.0-py3-none-any.whl"}
            assert proxy.project_json("origin-top")["info"]["version"] == "2.0"
            downloads = [
                line
                for line in origin.access_lines()
                if "GET /packages/" in line and ".whl " in line and '" 200 ' in line
            ]
            assert len(downloads) == 2, downloads


def test_concurrent_first_reads_of_a_page_fetch_it_once(tmp_path, upstream):
    upstream.add_wheel("popular", "1.0")
    upstream.stall_seconds = 1.0
    with live_server_process(tmp_path / "index", UPSTREAM_INDEX_URL=upstream.url) as server:

        def read(_: int) -> int:
            return server.get("/simple/popular/").status_code

        with ThreadPoolExecutor(max_workers=6) as pool:
            statuses = list(pool.map(read, range(6)))
    assert statuses == [200] * 6
    assert upstream.page_requests("popular") == 1
