"""Fixtures for the end-to-end tests: a live index (see servers.py), an S3 server, the four
sample projects built once, and those projects published to the index with twine and uv.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.e2e.helpers import (
    PROJECTS,
    VENV_BIN,
    clean_env,
    free_port,
    http_session,
    run,
    twine_upload,
    uv_publish,
)
from tests.e2e.servers import LiveServer, live_server_process, stop_process_group


@pytest.fixture(scope="module")
def moto_endpoint(tmp_path_factory) -> Iterator[tuple[str, object]]:
    """A `moto_server` process (an S3-compatible store over HTTP): its endpoint and log."""
    root = tmp_path_factory.mktemp("moto")
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    log_path = root / "moto.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [VENV_BIN / "moto_server", "-H", "127.0.0.1", "-p", str(port)],
            env=clean_env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        session = http_session()
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"moto_server exited:\n{log_path.read_text()}")
            try:
                session.get(f"{endpoint}/moto-api/", timeout=5)
                break
            except requests.RequestException:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield endpoint, log_path
    finally:
        stop_process_group(process)


@pytest.fixture(scope="session")
def index_server(tmp_path_factory) -> Iterator[LiveServer]:
    with live_server_process(tmp_path_factory.mktemp("live-server")) as server:
        yield server


@dataclass(frozen=True)
class Dist:
    name: str
    version: str
    wheel: Path
    sdist: Path


# directory under tests/e2e/projects -> (project name, version)
SAMPLES = {
    "base": ("e2e.base-lib", "1.0.0"),
    "middle": ("e2e_middle", "2.1"),
    "top": ("e2e-top", "0.3.0"),
    "extra": ("e2e-extra", "1.2"),
}


@pytest.fixture(scope="session")
def dists(tmp_path_factory) -> dict[str, Dist]:
    """The four sample projects built once (wheel and sdist), from copies of their sources so
    the repository gets no build/ or egg-info."""
    root = tmp_path_factory.mktemp("dists")

    def build(directory: str) -> Dist:
        source = root / directory
        shutil.copytree(
            PROJECTS / directory,
            source,
            ignore=shutil.ignore_patterns("build", "dist", "*.egg-info", "__pycache__"),
        )
        out = root / f"{directory}-dist"
        run([sys.executable, "-m", "build", "--no-isolation", "--outdir", out, source])
        name, version = SAMPLES[directory]
        (wheel,) = out.glob("*.whl")
        (sdist,) = out.glob("*.tar.gz")
        return Dist(name=name, version=version, wheel=wheel, sdist=sdist)

    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(zip(SAMPLES, pool.map(build, SAMPLES), strict=True))


class Published(dict[str, Dist]):
    """The sample dists by directory name, plus the access-log lines of their uploads."""

    upload_lines: list[str]


@pytest.fixture(scope="session")
def published(index_server, dists) -> Published:
    """All four projects on the live server: two uploaded with twine, two with uv publish."""
    since = len(index_server.access_lines())
    twine_upload(
        index_server.url,
        index_server.token,
        *(path for key in ("base", "middle") for path in (dists[key].wheel, dists[key].sdist)),
    )
    uv_publish(
        index_server.url,
        index_server.token,
        *(path for key in ("top", "extra") for path in (dists[key].wheel, dists[key].sdist)),
    )
    result = Published(dists)
    result.upload_lines = index_server.access_lines_since(
        since, lambda lines: sum('"POST /legacy/ ' in line for line in lines) >= 8
    )
    return result
