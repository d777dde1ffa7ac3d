"""A live index: gunicorn serving this repository from its own data directory, database and
cache prefix, plus the pieces to start and stop it.

Mode follows the environment the tests run in: with nothing set the server is embedded (SQLite
and files under its DATA_DIR); with DATABASE_URL it gets a fresh PostgreSQL database of its own,
dropped afterwards, and with REDIS_URL it shares that Redis under a unique CACHE_KEY_PREFIX.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import requests

from tests.e2e.helpers import REPO, VENV_BIN, clean_env, free_port, http_session, run

ADMIN = "e2e-admin"
# What the index and the tests use to speak to moto_server (conftest.py `moto_endpoint`).
S3_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_S3_REGION_NAME": "us-east-1",
}
STARTUP_TIMEOUT = 60
# Settings the server must not inherit from whoever runs the tests.
_SERVER_ONLY = (
    "DATABASE_URL",
    "REDIS_URL",
    "CACHE_KEY_PREFIX",
    "DATA_DIR",
    "PORT",
    "HOST",
    "FILES_BASE_URL",
    "SITE_URL",
    "ALLOWED_HOSTS",
    "HELP_URL",
    "DJANGO_SETTINGS_MODULE",
    "INDEX_READ_ACCESS",
    "READ_BASIC_AUTH_PASSWORDS",
)


@dataclass
class LiveServer:
    url: str
    token: str
    username: str
    data_dir: Path
    env: dict[str, str]
    log_path: Path
    access_log: Path
    http: requests.Session = field(default_factory=http_session)
    process: subprocess.Popen | None = None  # gunicorn's master, leader of its process group

    def manage(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """`manage.py ARGS` against this server's database, storage and cache."""
        return run([sys.executable, "manage.py", *args], env=self.env, cwd=REPO, check=check)

    def shell(self, code: str) -> str:
        return self.manage("shell", "-c", code).stdout

    def create_user(self, username: str, *, superuser: bool = False) -> str:
        """A user and a user-wide API token for it; returns the token."""
        if superuser:
            self.manage(
                "createsuperuser", "--noinput", "--username", username,
                "--email", f"{username}@example.com",
            )  # fmt: skip
        else:
            self.shell(
                "from django.contrib.auth import get_user_model; "
                f"get_user_model().objects.create_user({username!r}, "
                f"email='{username}@example.com', password='not-used')"
            )
        return self.manage("create_api_token", username).stdout.strip().splitlines()[-1]

    def get(self, path: str, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", 30)
        return self.http.get(f"{self.url}{path}", **kwargs)

    def simple_json(self, name: str) -> dict:
        response = self.get(
            f"/simple/{name}/", headers={"Accept": "application/vnd.pypi.simple.v1+json"}
        )
        assert response.status_code == 200, response.text
        return response.json()

    def project_json(self, name: str) -> dict:
        response = self.get(f"/pypi/{name}/json")
        assert response.status_code == 200, response.text
        return response.json()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def access_lines(self) -> list[str]:
        return self.access_log.read_text(errors="replace").splitlines()

    def access_lines_since(
        self, since: int, until: Callable[[list[str]], bool], timeout: float = 10
    ) -> list[str]:
        """Access-log lines after the first `since`, once `until(lines)` holds (or the timeout
        passes): a worker logs a request only after the client already has its response."""
        deadline = time.monotonic() + timeout
        while True:
            lines = self.access_lines()[since:]
            if until(lines) or time.monotonic() > deadline:
                return lines
            time.sleep(0.1)


@contextlib.contextmanager
def fresh_database(base_url: str | None = None) -> Iterator[str | None]:
    """A new, empty PostgreSQL database on the `base_url` server, by default DATABASE_URL's
    (None in embedded mode)."""
    base_url = base_url or os.environ.get("DATABASE_URL")
    if not base_url:
        yield None
        return
    import psycopg2

    name = f"e2e_{secrets.token_hex(6)}"
    admin = psycopg2.connect(base_url)
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{name}"')
        yield urlunparse(urlparse(base_url)._replace(path=f"/{name}"))
    finally:
        with admin.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                [name],
            )
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.close()


@contextlib.contextmanager
def live_server_process(root: Path, **settings: str) -> Iterator[LiveServer]:
    """Migrate, create an admin user and token, start gunicorn, yield once /simple/ answers;
    `settings` are extra environment variables for the server (the S3 ones, for instance)."""
    data_dir = root / "data"
    data_dir.mkdir(parents=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with fresh_database() as database_url:
        env = clean_env()
        for name in _SERVER_ONLY:
            env.pop(name, None)
        for name in [k for k in env if k.startswith("AWS_")]:
            env.pop(name)
        env.update(
            DATA_DIR=str(data_dir),
            SECRET_KEY=os.environ.get("SECRET_KEY") or secrets.token_urlsafe(40),
            HOST="127.0.0.1",
            PORT=str(port),
            SITE_URL=url,
            WEB_CONCURRENCY="2",
            WEB_THREADS="4",
            ACCESS_LOG=str(root / "access.log"),
            DJANGO_SUPERUSER_PASSWORD=secrets.token_urlsafe(16),
        )
        if database_url:
            env["DATABASE_URL"] = database_url
        if os.environ.get("REDIS_URL"):
            env["REDIS_URL"] = os.environ["REDIS_URL"]
            env["CACHE_KEY_PREFIX"] = f"e2e-{secrets.token_hex(6)}"
        env.update(settings)

        server = LiveServer(
            url=url,
            token="",
            username=ADMIN,
            data_dir=data_dir,
            env=env,
            log_path=root / "server.log",
            access_log=root / "access.log",
        )
        server.manage("migrate", "--noinput", "--verbosity", "0")
        server.token = server.create_user(ADMIN, superuser=True)
        try:
            with gunicorn_running(server):
                yield server
        finally:
            if env.get("CACHE_KEY_PREFIX"):
                _delete_cache_keys(env["REDIS_URL"], env["CACHE_KEY_PREFIX"])


@contextlib.contextmanager
def another_app_server(first: LiveServer, root: Path) -> Iterator[LiveServer]:
    """A second gunicorn on `first`'s database, cache, storage, SECRET_KEY and SITE_URL (as two
    app servers behind one load balancer), with its own port, DATA_DIR (temporary uploads) and
    logs. Nothing is migrated or created: it serves what `first` set up."""
    data_dir = root / "data"
    data_dir.mkdir(parents=True)
    port = free_port()
    env = {
        **first.env,
        "DATA_DIR": str(data_dir),
        "PORT": str(port),
        "ACCESS_LOG": str(root / "access.log"),
    }
    server = LiveServer(
        url=f"http://127.0.0.1:{port}",
        token=first.token,
        username=first.username,
        data_dir=data_dir,
        env=env,
        log_path=root / "server.log",
        access_log=root / "access.log",
    )
    with gunicorn_running(server):
        yield server


@contextlib.contextmanager
def gunicorn_running(server: LiveServer) -> Iterator[subprocess.Popen]:
    """gunicorn with `server.env`, yielded once /simple/ answers and stopped afterwards; may be
    entered again after the process died (its log is appended to)."""
    with open(server.log_path, "ab") as log:
        process = subprocess.Popen(
            [VENV_BIN / "gunicorn", "-c", "pypi_site/gunicorn.py", "pypi_site.wsgi"],
            cwd=REPO,
            env=server.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, killed as one below
        )
    server.process = process
    try:
        _wait_until_serving(server, process)
        yield process
    finally:
        stop_process_group(process)


def _wait_until_serving(server: LiveServer, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}:\n{server.log()}")
        try:
            # 401: an index with INDEX_READ_ACCESS=authenticated, serving.
            if server.get("/simple/", timeout=10).status_code in (200, 401):
                return
        except requests.RequestException:  # not listening yet, or a worker still booting
            pass
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not serve /simple/ in {STARTUP_TIMEOUT}s:\n{server.log()}")


def stop_process_group(process: subprocess.Popen) -> None:
    """Stop a process started with start_new_session, and everything in its group."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGINT)  # gunicorn: quick shutdown
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=15)


def _delete_cache_keys(redis_url: str, prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()
