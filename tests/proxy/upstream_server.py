"""A small upstream index for the proxy's tests: a static PEP 691 / PEP 503 tree served by a
local HTTP server in a thread (never the internet). Tests add projects and wheels to it, count
what the proxy asks for, and make it fail, stall or lie.

Nothing here imports Django: the end-to-end tests point a separate index process at it too.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BytesIO

from tests.dists import dist_name, make_wheel, metadata_text


@dataclass
class UpstreamFile:
    filename: str
    body: bytes
    metadata: bytes | None
    upload_time: datetime | None
    yanked: bool | str = False
    requires_python: str = ""
    repeat: int = 1  # the body is `body` this many times over (big files, never in memory)
    url: str = ""  # where the page says the file is; by default this server's /files/

    @property
    def size(self) -> int:
        return len(self.body) * self.repeat

    @property
    def sha256(self) -> str:
        if not hasattr(self, "_sha256"):
            digest = hashlib.sha256()
            for _ in range(self.repeat):
                digest.update(self.body)
            self._sha256 = digest.hexdigest()
        return self._sha256


@dataclass
class StaticUpstream:
    projects: dict[str, list[UpstreamFile]] = field(default_factory=dict)
    requests: Counter = field(default_factory=Counter)
    html_only: bool = False
    fail_status: int | None = None  # answer every request with this status
    stall_seconds: float = 0.0  # wait this long before answering pages
    file_delay: float = 0.0  # seconds between the chunks of a file
    corrupt: set[str] = field(default_factory=set)  # filenames served with other bytes
    credentials: tuple[str, str] | None = None  # required Basic auth, when set
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/simple/"

    def add_wheel(
        self,
        name: str,
        version: str,
        *,
        age: timedelta | None = timedelta(days=30),
        requires: tuple[str, ...] = (),
        payload: bytes = b"VALUE = 1\n",
        yanked: bool | str = False,
    ) -> UpstreamFile:
        extra = "".join(f"Requires-Dist: {r}\n" for r in requires)
        filename, body = make_wheel(
            name, version, metadata=metadata_text(name, version, extra), payload=payload
        )
        with zipfile.ZipFile(BytesIO(body)) as archive:
            metadata = archive.read(f"{dist_name(name)}-{version}.dist-info/METADATA")
        upload_time = None if age is None else datetime.now(UTC) - age
        entry = UpstreamFile(filename, body, metadata, upload_time, yanked=yanked)
        self.projects.setdefault(_normalize(name), []).append(entry)
        return entry

    def add_file(self, name: str, entry: UpstreamFile) -> None:
        self.projects.setdefault(_normalize(name), []).append(entry)

    def add_big_file(self, name: str, version: str, *, megabytes: int) -> UpstreamFile:
        """A file of `megabytes` MiB (not a real wheel: for download tests), no metadata."""
        block = hashlib.sha256(b"seed").digest() * (1024 * 1024 // 32)
        filename = f"{dist_name(name)}-{version}-py3-none-any.whl"
        entry = UpstreamFile(
            filename, block, None, datetime.now(UTC) - timedelta(days=30), repeat=megabytes
        )
        self.projects.setdefault(_normalize(name), []).append(entry)
        return entry

    def start(self) -> StaticUpstream:
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                upstream.requests[self.path] += 1
                upstream.handle(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def page_requests(self, name: str) -> int:
        return self.requests[f"/simple/{name}/"]

    def file_requests(self, filename: str) -> int:
        return self.requests[f"/files/{filename}"]

    # --- answering --------------------------------------------------------------------------

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        if self.credentials is not None:
            import base64

            expected = base64.b64encode(":".join(self.credentials).encode()).decode()
            if request.headers.get("Authorization") != f"Basic {expected}":
                return _send(request, 401, b"unauthorized", "text/plain")
        if self.fail_status is not None:
            return _send(request, self.fail_status, b"upstream trouble", "text/plain")
        path = request.path
        if path.startswith("/simple/") and path.count("/") == 3:
            if self.stall_seconds:
                time.sleep(self.stall_seconds)
            return self._page(request, path.split("/")[2])
        if path.startswith("/files/"):
            return self._file(request, path.removeprefix("/files/"))
        return _send(request, 404, b"not found", "text/plain")

    def _page(self, request: BaseHTTPRequestHandler, name: str) -> None:
        files = self.projects.get(name)
        if files is None:
            return _send(request, 404, b"no such project", "text/plain")
        wants_json = "application/vnd.pypi.simple.v1+json" in request.headers.get("Accept", "")
        if wants_json and not self.html_only:
            body = json.dumps(_json_page(name, files)).encode()
            content_type = "application/vnd.pypi.simple.v1+json"
        else:
            body = _html_page(name, files).encode()
            content_type = "text/html"
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        if request.headers.get("If-None-Match") == etag:
            return _send(request, 304, b"", content_type, etag=etag)
        return _send(request, 200, body, content_type, etag=etag)

    def _file(self, request: BaseHTTPRequestHandler, filename: str) -> None:
        want_metadata = filename.endswith(".metadata")
        filename = filename.removesuffix(".metadata")
        entry = next(
            (f for files in self.projects.values() for f in files if f.filename == filename), None
        )
        if entry is None or (want_metadata and entry.metadata is None):
            return _send(request, 404, b"no such file", "text/plain")
        if entry.repeat > 1 and not want_metadata:
            request.send_response(200)
            request.send_header("Content-Type", "application/octet-stream")
            request.send_header("Content-Length", str(entry.size))
            request.end_headers()
            for _ in range(entry.repeat):
                request.wfile.write(entry.body)
            return None
        body = entry.metadata if want_metadata else entry.body
        if filename in self.corrupt and not want_metadata:
            body = body[:-1] + bytes([body[-1] ^ 1])
        if not self.file_delay or want_metadata:
            return _send(request, 200, body, "application/octet-stream")
        request.send_response(200)
        request.send_header("Content-Type", "application/octet-stream")
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        step = max(len(body) // 5, 1)
        for start in range(0, len(body), step):
            time.sleep(self.file_delay)
            request.wfile.write(body[start : start + step])


def _normalize(name: str) -> str:
    import re

    return re.sub(r"[-_.]+", "-", name).lower()


def _send(
    request: BaseHTTPRequestHandler, status: int, body: bytes, content_type: str, etag: str = ""
) -> None:
    request.send_response(status)
    request.send_header("Content-Type", content_type)
    request.send_header("Content-Length", str(len(body)))
    if etag:
        request.send_header("ETag", etag)
    request.end_headers()
    if status != 304:
        request.wfile.write(body)


def _json_page(name: str, files: list[UpstreamFile]) -> dict:
    return {
        "meta": {"api-version": "1.1", "_last-serial": 4242},
        "name": name,
        "files": [
            {
                "filename": f.filename,
                "url": f.url or f"../../files/{f.filename}",
                "hashes": {"sha256": f.sha256},
                "requires-python": f.requires_python or None,
                "size": f.size,
                "upload-time": (
                    f.upload_time.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if f.upload_time else None
                ),
                "yanked": f.yanked,
                "core-metadata": (
                    {"sha256": hashlib.sha256(f.metadata).hexdigest()} if f.metadata else False
                ),
            }
            for f in files
        ],
        "versions": [],
    }


def _html_page(name: str, files: list[UpstreamFile]) -> str:
    links = []
    for f in files:
        attributes = f'href="/files/{escape(f.filename)}#sha256={f.sha256}"'
        if f.metadata:
            attributes += f' data-core-metadata="sha256={hashlib.sha256(f.metadata).hexdigest()}"'
        if f.yanked:
            attributes += f' data-yanked="{escape(f.yanked if isinstance(f.yanked, str) else "")}"'
        links.append(f"<a {attributes}>{escape(f.filename)}</a><br>")
    return f"<!DOCTYPE html><html><body><h1>Links for {name}</h1>{''.join(links)}</body></html>"
