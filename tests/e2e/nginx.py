"""Real nginx on a loopback port, configured by the shipped deploy/nginx/ files: a generated
main config holds only what a test run needs of its own (prefix, temp and log paths, the port,
`daemon off`) and includes index-http.conf and index.conf as an operator would."""

from __future__ import annotations

import contextlib
import getpass
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import requests

from tests.e2e.helpers import REPO, free_port, http_session

DEPLOY = REPO / "deploy" / "nginx"
MISSING = (
    "nginx is not installed: `apt-get install -y nginx` (.ci/run does it) to run the static "
    "pages tests"
)


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None
    )


@dataclass
class Nginx:
    url: str
    error_log: Path
    http: requests.Session

    def get(self, path: str, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", 30)
        return self.http.get(f"{self.url}{path}", **kwargs)

    def errors(self) -> str:
        return self.error_log.read_text(errors="replace") if self.error_log.exists() else ""


def config(*, root: Path, port: int, storage: Path, upstream: str, extra: str = "") -> str:
    """`extra`: more of the http block (another server, as bench/static.py adds)."""
    # Workers of a master started as root switch to `nobody`, who cannot read pytest's private
    # temporary folders: keep them as the user running the tests.
    user = f"user {getpass.getuser()};\n" if os.geteuid() == 0 else ""
    temp = {name: root / name for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")}
    for path in temp.values():
        path.mkdir(exist_ok=True)
    return f"""{user}daemon off;
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log info;
events {{ worker_connections 256; }}
http {{
    access_log {root}/access.log;
    client_body_temp_path {temp["client_body"]};
    proxy_temp_path {temp["proxy"]};
    fastcgi_temp_path {temp["fastcgi"]};
    uwsgi_temp_path {temp["uwsgi"]};
    scgi_temp_path {temp["scgi"]};
    include {DEPLOY}/index-http.conf;
    upstream index_app {{
        server {upstream};
        keepalive 4;
    }}
    server {{
        listen 127.0.0.1:{port};
        server_name localhost;
        set $index_storage {storage};
        include {DEPLOY}/index.conf;
    }}
{extra}}}
"""


@contextlib.contextmanager
def nginx_process(
    root: Path, *, storage: Path, upstream: str, port: int | None = None, extra: str = ""
) -> Iterator[Nginx]:
    """nginx on `port` serving `storage` (the app's DATA_DIR/files) in front of `upstream`
    (host:port of the app server); `extra` goes into its http block."""
    binary = nginx_binary()
    assert binary, MISSING
    root.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    conf = root / "nginx.conf"
    conf.write_text(config(root=root, port=port, storage=storage, upstream=upstream, extra=extra))
    check = subprocess.run(
        [binary, "-t", "-p", str(root), "-e", str(root / "error.log"), "-c", str(conf)],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stderr
    process = subprocess.Popen(
        [binary, "-p", str(root), "-e", str(root / "error.log"), "-c", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    server = Nginx(url=url, error_log=root / "error.log", http=http_session())
    try:
        deadline = time.monotonic() + 20
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"nginx exited with {process.returncode}:\n{server.errors()}")
            try:
                server.http.get(f"{server.url}/simple/", timeout=5)
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield server
    finally:
        process.terminate()  # SIGTERM: fast shutdown of the master and its worker.
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, 9)
            process.wait(timeout=10)
