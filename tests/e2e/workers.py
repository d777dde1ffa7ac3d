"""A real `manage.py rqworker` beside a live server, for tests whose work happens in jobs."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator

from tests.e2e.helpers import REPO
from tests.e2e.servers import LiveServer, stop_process_group


@contextlib.contextmanager
def rq_worker(server: LiveServer) -> Iterator[None]:
    """With REDIS_URL jobs go to the queue: run a real worker beside the app (nothing without)."""
    if not server.env.get("REDIS_URL"):
        yield
        return
    with open(server.data_dir / "worker.log", "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "rqworker", "default"],
            cwd=REPO,
            env=server.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield
    finally:
        stop_process_group(process)
