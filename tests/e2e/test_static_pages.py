"""Static simple pages through real nginx: the app (STATIC_SIMPLE_PAGES=1) writes them after
each change, nginx serves them with the shipped deploy/nginx/ configuration and the app's own
headers, and once every app server is stopped pip and uv still install through nginx alone."""

from __future__ import annotations

import contextlib
import gzip
import time
from pathlib import Path

import pytest
import requests

from tests.e2e.helpers import (
    free_port,
    installed,
    make_venv,
    normalize,
    pip_install,
    twine_upload,
    uv_pip_install,
)
from tests.e2e.nginx import MISSING, nginx_binary, nginx_process
from tests.e2e.servers import LiveServer, live_server_process
from tests.e2e.workers import rq_worker

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(nginx_binary() is None, reason=MISSING),
]

JSON = "application/vnd.pypi.simple.v1+json"
# pip's and uv's Accept headers (PEP 691 JSON first).
PIP_ACCEPT = f"{JSON}, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01"
UV_ACCEPT = f"{JSON}, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01"
SAME_HEADERS = (
    "Content-Type",
    "ETag",
    "X-PyPI-Last-Serial",
    "Vary",
    "Cache-Control",
    "Surrogate-Control",
    "Surrogate-Key",
    "Access-Control-Allow-Origin",
)


def wait_for_pages(server: LiveServer, storage: Path, names: list[str]) -> None:
    """Until each project's stored page has the serial the app reports for it."""
    deadline = time.monotonic() + 60
    for name in [*names, "_root"]:
        url = "/simple/" if name == "_root" else f"/simple/{name}/"
        while True:
            serial = server.get(url).headers["X-PyPI-Last-Serial"]
            link = storage / "simple" / name
            if link.is_symlink() and link.resolve().name.split(".")[0] == serial:
                break
            assert time.monotonic() < deadline, f"no static page for {name} at serial {serial}"
            time.sleep(0.2)


def assert_same_page(nginx, server: LiveServer, path: str, accept: str) -> requests.Response:
    headers = {"Accept": accept, "Accept-Encoding": "identity"}
    static = nginx.get(path, headers=headers)
    app = server.get(path, headers=headers)
    assert static.status_code == app.status_code == 200
    assert static.content == app.content
    for name in SAME_HEADERS:
        assert static.headers.get(name) == app.headers.get(name), name
    return static


def test_nginx_serves_static_pages_and_installs_with_the_app_stopped(dists, tmp_path):
    nginx_port = free_port()
    site = f"http://127.0.0.1:{nginx_port}"
    app = contextlib.ExitStack()
    with app:
        # Links in the pages (files, the root's projects) point at nginx, as behind any proxy.
        server = app.enter_context(
            live_server_process(tmp_path / "app", STATIC_SIMPLE_PAGES="1", SITE_URL=site)
        )
        app.enter_context(rq_worker(server))
        storage = server.data_dir / "files"
        upstream = server.url.removeprefix("http://")
        nginx = app.enter_context(
            nginx_process(tmp_path / "nginx", port=nginx_port, storage=storage, upstream=upstream)
        )
        # Uploads go through nginx to the app.
        twine_upload(
            nginx.url,
            server.token,
            *(path for dist in dists.values() for path in (dist.wheel, dist.sdist)),
        )
        names = [normalize(dist.name) for dist in dists.values()]
        wait_for_pages(server, storage, names)

        # The stored pages are what the app sends, with the app's headers.
        top = normalize(dists["top"].name)
        for path in (f"/simple/{top}/", "/simple/"):
            page = assert_same_page(nginx, server, path, "text/html")
            assert page.headers["Content-Type"] == "text/html"
            page = assert_same_page(nginx, server, path, PIP_ACCEPT)
            assert page.headers["Content-Type"] == JSON
            assert_same_page(nginx, server, path, UV_ACCEPT)
        assert nginx.get(f"/simple/{top}/").headers["Surrogate-Key"] == f"simple simple-{top}"

        # Nothing on disk yet for a name that is not normalized: the app answers (a redirect).
        redirect = nginx.get(f"/simple/{dists['top'].name.upper()}/", allow_redirects=False)
        assert redirect.status_code == 301
        assert redirect.headers["Location"] == f"/simple/{top}/"

        # Quarantine rewrites the page and hides the files from nginx; lifting restores both.
        extra = normalize(dists["extra"].name)
        files = nginx.get(f"/simple/{extra}/", headers={"Accept": JSON}).json()["files"]
        (file_url,) = [f["url"] for f in files if f["filename"].endswith(".whl")]
        assert nginx.get(file_url.removeprefix(site)).status_code == 200
        server.manage("quarantine_project", extra, "--reason", "e2e: report")
        wait_for_pages(server, storage, [extra])
        assert nginx.get(f"/simple/{extra}/", headers={"Accept": JSON}).json()["files"] == []
        assert nginx.get(file_url.removeprefix(site)).status_code == 404  # the app's answer
        server.manage("quarantine_project", extra, "--reason", "e2e: fine", "--clear")
        wait_for_pages(server, storage, [extra])
        assert len(nginx.get(f"/simple/{extra}/", headers={"Accept": JSON}).json()["files"]) == 2
        assert nginx.get(file_url.removeprefix(site)).status_code == 200

        etags = {
            accept: nginx.get(f"/simple/{top}/", headers={"Accept": accept}).headers["ETag"]
            for accept in ("text/html", JSON)
        }
        serial = nginx.get(f"/simple/{top}/").headers["X-PyPI-Last-Serial"]

        # Every app server (and the worker) stops; its database is dropped.
        app.close()
        with pytest.raises(requests.ConnectionError):
            requests.get(f"{server.url}/simple/", timeout=5)

    with nginx_process(
        tmp_path / "nginx-alone", port=nginx_port, storage=storage, upstream=upstream
    ) as nginx:
        # The same pages, headers and negotiation, from nginx alone.
        html = nginx.get(f"/simple/{top}/")
        assert html.headers["Content-Type"] == "text/html"
        assert html.headers["ETag"] == etags["text/html"]
        assert html.headers["X-PyPI-Last-Serial"] == serial
        assert html.headers["Vary"] == "Accept, Accept-Encoding"
        as_json = nginx.get(f"/simple/{top}/", headers={"Accept": PIP_ACCEPT})
        assert as_json.headers["Content-Type"] == JSON
        assert as_json.headers["ETag"] == etags[JSON]
        assert as_json.json()["meta"]["_last-serial"] == int(serial)
        by_query = nginx.get(f"/simple/{top}/?format=application/vnd.pypi.simple.v1%2Bjson")
        assert by_query.headers["Content-Type"] == JSON
        packed = nginx.get(
            f"/simple/{top}/", headers={"Accept": JSON, "Accept-Encoding": "gzip"}, stream=True
        )
        assert packed.headers["Content-Encoding"] == "gzip"
        assert packed.headers["ETag"] == etags[JSON]
        assert gzip.decompress(packed.raw.read()) == as_json.content
        unchanged = nginx.get(f"/simple/{top}/", headers={"If-None-Match": etags["text/html"]})
        assert unchanged.status_code == 304
        # A q-value order nginx leaves to the app: with no app, the stored HTML page.
        ranked = {"Accept": f"{JSON};q=0.5, text/html;q=0.4"}
        fallback = nginx.get(f"/simple/{top}/", headers=ranked)
        assert fallback.status_code == 200 and fallback.headers["Content-Type"] == "text/html"
        # What is not on disk needs the app, which is gone.
        assert nginx.get("/simple/no-such-project/").status_code == 502

        index = f"{nginx.url}/simple/"
        expected = {normalize(dists[k].name): dists[k].version for k in ("top", "middle", "base")}
        with_pip = make_venv(tmp_path / "pip-venv")
        pip_install(with_pip, index, dists["top"].name)
        assert {k: installed(with_pip).get(k) for k in expected} == expected
        with_uv = make_venv(tmp_path / "uv-venv")
        uv_pip_install(with_uv, index, dists["top"].name)
        assert {k: installed(with_uv).get(k) for k in expected} == expected
