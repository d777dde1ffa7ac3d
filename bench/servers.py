"""The processes a benchmark run starts: this index and pypiserver under gunicorn, each in its own
process group so a whole worker tree stops together, and the tools they need (wrk from apt,
pypiserver in its own virtualenv under bench/.work/)."""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

import requests

from bench import LOGS, ROOT, RUN, WORK, log

PYPISERVER_VENV = WORK / "pypiserver-venv"
# What pypiserver's container image installs: the package with its directory cache (watchdog)
# and htpasswd support, gunicorn (the image keeps it below 26) and gevent workers.
PYPISERVER_REQUIREMENTS = ["pypiserver[cache,passlib]", "gunicorn>=21.2,<26", "gevent"]

JSON_ACCEPT = "application/vnd.pypi.simple.v1+json"
HTML_ACCEPT = "text/html"


class Servers:
    """Child processes started in their own sessions, so a whole gunicorn tree dies together."""

    def __init__(self) -> None:
        self.procs: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, cmd: list[str], *, env: dict, cwd: Path) -> subprocess.Popen:
        LOGS.mkdir(parents=True, exist_ok=True)
        out = open(LOGS / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(
            cmd, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        out.close()
        self.procs.append((name, proc))
        log(f"started {name} (pid {proc.pid}): {shlex.join(cmd)}")
        return proc

    def stop_all(self) -> None:
        for name, proc in reversed(self.procs):
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    continue
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=5)
                log(f"stopped {name}")
            # Workers can outlive a master killed hard; sweep the group once more.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
        self.procs.clear()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(name: str, url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{name} exited with {proc.returncode}; see {LOGS / (name + '.log')}")
        try:
            if requests.get(url, timeout=2).status_code < 500:
                log(f"{name} is up at {url}")
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{name} did not answer at {url} within {timeout}s")


def run(cmd: list[str], *, env: dict | None = None, cwd: Path = ROOT) -> str:
    result = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit(f"command failed ({result.returncode}): {shlex.join(cmd)}")
    return result.stdout


def clean_env(**extra: str) -> dict:
    """The environment minus anything that would switch the index off embedded mode or change
    pip's behaviour."""
    drop_prefixes = ("PIP_", "AWS_", "UV_")
    drop = {
        "DATABASE_URL",
        "REDIS_URL",
        "SECRET_KEY",
        "DEBUG",
        "ACCESS_LOG",
        "FILES_BASE_URL",
        "GUNICORN_CMD_ARGS",
        "WEB_CONCURRENCY",
        "WEB_THREADS",
        "VIRTUAL_ENV",
        "PYTHONPATH",
        "UPSTREAM_INDEX_URL",
        "MIN_RELEASE_AGE",
    }
    env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith(drop_prefixes)}
    env.update(extra)
    return env


# --- prerequisites ----------------------------------------------------------------------------


def ensure_wrk() -> str:
    path = shutil.which("wrk")
    if path:
        return path
    log("wrk is missing: installing it with apt-get")
    apt = ["apt-get", "install", "-y", "-q", "wrk"]
    if os.geteuid() != 0:
        apt = ["sudo", "-n", *apt]
    if subprocess.run(apt, capture_output=True).returncode != 0:
        subprocess.run(apt[:-4] + ["update", "-q"], capture_output=True)
        if subprocess.run(apt, capture_output=True).returncode != 0:
            raise SystemExit("could not install wrk (apt-get install -y wrk)")
    path = shutil.which("wrk")
    if not path:
        raise SystemExit("wrk still not on PATH after apt-get install")
    return path


def ensure_pypiserver(reinstall: bool) -> Path:
    python = PYPISERVER_VENV / "bin" / "python"
    stamp = PYPISERVER_VENV / ".installed"
    wanted = "\n".join(PYPISERVER_REQUIREMENTS)
    if reinstall and PYPISERVER_VENV.exists():
        shutil.rmtree(PYPISERVER_VENV)
    if stamp.exists() and stamp.read_text() == wanted and python.exists():
        return PYPISERVER_VENV
    log(f"creating {PYPISERVER_VENV.relative_to(ROOT)} with {' '.join(PYPISERVER_REQUIREMENTS)}")
    if PYPISERVER_VENV.exists():
        shutil.rmtree(PYPISERVER_VENV)
    base_python = getattr(sys, "_base_executable", None) or sys.executable
    run([base_python, "-m", "venv", str(PYPISERVER_VENV)])
    # The machine's own pip configuration (registry, certificates) applies here on purpose.
    run([str(python), "-m", "pip", "install", "-q", "--upgrade", *PYPISERVER_REQUIREMENTS])
    stamp.write_text(wanted)
    return PYPISERVER_VENV


def wrk_version(wrk: str) -> str:
    words = subprocess.run([wrk, "--version"], capture_output=True, text=True).stdout.split()
    return words[1] if words else "unknown"


def index_python() -> Path:
    """The interpreter of this index's venv (the one `make` installs), else this one."""
    python = ROOT / ".venv" / "bin" / "python"
    return python if python.exists() else Path(sys.executable)


def package_versions(python: Path, names: list[str]) -> dict[str, str]:
    code = (
        "import importlib.metadata as m, json, sys\n"
        "out = {}\n"
        "for n in sys.argv[1:]:\n"
        "    try: out[n] = m.version(n)\n"
        "    except m.PackageNotFoundError: out[n] = 'absent'\n"
        "print(json.dumps(out))\n"
    )
    return json.loads(run([str(python), "-c", code, *names]))


# --- the two servers --------------------------------------------------------------------------


@dataclass
class Target:
    label: str
    base: str  # http://127.0.0.1:PORT
    upload_url: str
    auth: tuple[str, str]
    formats: tuple[str, ...]  # Accept values to measure
    pgid: int = 0  # the server's process group (its master started a new session)


def prepare_source(rev: str | None) -> tuple[Path, dict]:
    """The tree to run this index from: the work tree as it is, or `git archive REV` exported
    under bench/.work/run/src (so edits made during a long run cannot change what is measured).
    Returns the directory and what to say about it."""
    commit = run(["git", "rev-parse", rev or "HEAD"]).strip()
    if rev is None:
        changed = [
            line[3:]
            for line in run(["git", "status", "--porcelain"]).splitlines()
            if not line[3:].startswith(("bench/", "BENCHMARKS.md"))
        ]
        state = f"the work tree at {commit[:12]}" + (
            f" with {len(changed)} uncommitted changed file(s)" if changed else " (clean)"
        )
        return ROOT, {"commit": commit, "description": state}
    src = RUN / "src"
    src.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "archive", "--format=tar", commit], cwd=ROOT, capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(src)], input=archive, check=True)
    return src, {"commit": commit, "description": f"commit {commit[:12]} via `git archive {rev}`"}


EMBEDDED = "this index"
POSTGRES = "this index (PostgreSQL)"


def reset_postgres(database_url: str, redis_url: str) -> None:
    """Drop and create the bench's own PostgreSQL database, and empty its Redis database: each
    round starts from nothing, as the embedded one does with a fresh DATA_DIR."""
    import psycopg2
    from psycopg2 import sql

    parsed = urlparse(database_url)
    name = unquote(parsed.path.lstrip("/"))
    if "bench" not in name:
        raise SystemExit(
            f"--database-url must name a database of the benchmark's own (with 'bench' in its "
            f"name): it is dropped and created again; got {name!r}"
        )
    conn = psycopg2.connect(
        host=parsed.hostname or "",
        port=parsed.port or 5432,
        user=unquote(parsed.username or ""),
        password=unquote(parsed.password or ""),
        dbname="postgres",
    )
    conn.autocommit = True
    with conn.cursor() as cursor:
        cursor.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    conn.close()
    import redis

    redis.Redis.from_url(redis_url).flushdb()


def start_index(
    servers: Servers,
    *,
    workers: int,
    threads: int,
    src: Path,
    data_dir: Path | None = None,
    extra_env: dict[str, str] | None = None,
    database_url: str = "",
    redis_url: str = "",
) -> Target:
    """Migrate a fresh DATA_DIR (and database, with `database_url`), make a superuser and an API
    token, start gunicorn. Without `database_url` this is the embedded default."""
    label = POSTGRES if database_url else EMBEDDED
    data_dir = data_dir or RUN / ("index-pg-data" if database_url else "index-data")
    if data_dir.exists():
        shutil.rmtree(data_dir)
    port = free_port()
    python = str(index_python())
    production = {}
    if database_url:
        production = {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "SECRET_KEY": "bench-only-secret-key",
            "SITE_URL": f"http://127.0.0.1:{port}",
            # The bench's own Redis database: its queue and cache keys are its own.
            "CACHE_KEY_PREFIX": "bench",
        }
        reset_postgres(database_url, redis_url)
    env = clean_env(
        DATA_DIR=str(data_dir),
        PORT=str(port),
        WEB_CONCURRENCY=str(workers),
        WEB_THREADS=str(threads),
        DJANGO_SUPERUSER_PASSWORD="bench-password",
        **production,
        **(extra_env or {}),
    )
    log("this index: migrate a fresh DATA_DIR, create user and token")
    run([python, "manage.py", "migrate", "--noinput", "-v", "0"], env=env, cwd=src)
    if src != ROOT:
        # As `make run` does; in the work tree this is left to make (it writes outside bench/).
        run([python, "manage.py", "collectstatic", "--noinput", "-v", "0"], env=env, cwd=src)
    run(
        [
            python,
            "manage.py",
            "createsuperuser",
            "--noinput",
            "--username",
            "bench",
            "--email",
            "bench@example.invalid",
        ],
        env=env,
        cwd=src,
    )
    token = (
        run([python, "manage.py", "create_api_token", "bench"], env=env, cwd=src)
        .strip()
        .splitlines()[-1]
    )
    gunicorn = str(Path(python).parent / "gunicorn")
    name = "index-pg" if database_url else "index"
    proc = servers.start(
        name,
        [gunicorn, "-c", "pypi_site/gunicorn.py", "--no-control-socket", "pypi_site.wsgi"],
        env=env,
        cwd=src,
    )
    base = f"http://127.0.0.1:{port}"
    wait_ready(name, f"{base}/simple/", proc)
    return Target(
        label,
        base,
        f"{base}/legacy/",
        ("__token__", token),
        (HTML_ACCEPT, JSON_ACCEPT),
        pgid=proc.pid,
    )


# pypiserver's container image runs `pypi-server run --server gunicorn` with gunicorn settings
# (docker/gunicorn.conf.py there) of gevent workers and a preloaded app. That way the app is
# imported before gevent patches threading, so bottle's thread-local `request` is shared by all
# greenlets of a worker and concurrent uploads get each other's form data (seen here: a 400
# "already exists" naming another upload's file, and that upload's own file never stored).
# So this runs the same gevent workers on the app as its README documents for gunicorn,
# `gunicorn 'pypiserver:app(...)'`, imported in each worker after the patching; that also gives
# each worker a live watchdog observer for the directory cache.
PYPISERVER_GUNICORN_CONF = """\
bind = "127.0.0.1:{port}"
workers = {workers}
worker_class = "gevent"
preload_app = False
errorlog = "-"
control_socket_disable = True
"""


def start_pypiserver(servers: Servers, *, venv: Path, workers: int, backend: str) -> Target:
    home = RUN / "pypiserver"
    if home.exists():
        shutil.rmtree(home)
    packages = home / "packages"
    packages.mkdir(parents=True)
    port = free_port()
    conf = home / "gunicorn.conf.py"
    conf.write_text(PYPISERVER_GUNICORN_CONF.format(port=port, workers=workers))
    # Caching backend (as `--backend cached-dir`) unless told; authenticate=[] is `-a .`: no
    # authentication, so its uploads do less work than ours; no fallback redirect to a public
    # index for unknown names.
    app = (
        f"pypiserver:app(root={str(packages)!r}, backend_arg={backend!r}, authenticate=[], "
        "password_file='.', disable_fallback=True)"
    )
    cmd = [str(venv / "bin" / "gunicorn"), "-c", str(conf), app]
    proc = servers.start("pypiserver", cmd, env=clean_env(PYTHONUNBUFFERED="t"), cwd=home)
    base = f"http://127.0.0.1:{port}"
    wait_ready("pypiserver", f"{base}/health", proc)
    return Target(
        "pypiserver", base, f"{base}/", ("bench", "unused"), (HTML_ACCEPT,), pgid=proc.pid
    )
