#!/usr/bin/env python3
"""Benchmark this index against pypiserver, side by side, on this machine.

One run starts both servers on loopback with the same number of gunicorn workers, then measures:

* uploads: N small distinct wheels POSTed as twine does, a few at a time (files/s, latency);
* reads: GET /simple/<name>/ for a 1-file and an N-file project with wrk at several connection
  counts (requests/s and p99), HTML for both and PEP 691 JSON for this index, gzip accepted;
* `pip download --no-deps` of one pinned file through each index (median wall time).

It prints a markdown table (medians, ratio this index / pypiserver) and writes it, with the
command, date, machine facts and set-up, to BENCHMARKS.md. Everything it creates lives under
bench/.work/ (data directories, logs, pypiserver's own virtualenv); servers run in their own
process groups and are killed on exit.

Run it as `make bench` (or `.venv/bin/python bench/run.py --help`); `--quick` is a smoke run.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime as dt
import gzip
import hashlib
import io
import json
import os
import platform
import re
import resource
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / ".work"
RUN = WORK / "run"  # wiped at every run
LOGS = RUN / "logs"
PYPISERVER_VENV = WORK / "pypiserver-venv"
# What pypiserver's container image installs: the package with its directory cache (watchdog)
# and htpasswd support, gunicorn (the image keeps it below 26) and gevent workers.
PYPISERVER_REQUIREMENTS = ["pypiserver[cache,passlib]", "gunicorn>=21.2,<26", "gevent"]

ONE = "bench-one"  # project with a single file
BIG = "bench-big"  # project with --files files
JSON_ACCEPT = "application/vnd.pypi.simple.v1+json"
HTML_ACCEPT = "text/html"

T0 = time.monotonic()


def log(message: str) -> None:
    print(f"[{time.monotonic() - T0:7.1f}s] {message}", flush=True)


# --- processes --------------------------------------------------------------------------------


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


# --- wheels -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Wheel:
    name: str
    version: str
    filename: str
    data: bytes


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={digest}"


def make_wheel(name: str, version: str) -> Wheel:
    """A small, valid pure-Python wheel whose bytes differ for every (name, version)."""
    dist = re.sub(r"[-_.]+", "_", name).lower()
    info = f"{dist}-{version}.dist-info"
    members = {
        f"{dist}/__init__.py": f'"""Benchmark package {name}."""\n__version__ = "{version}"\n',
        f"{info}/METADATA": (
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
            "Summary: A package made by the index benchmark\n"
        ),
        f"{info}/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: bench/run.py\nRoot-Is-Purelib: true\n"
            "Tag: py3-none-any\n"
        ),
    }
    record = "".join(
        f"{path},{_record_hash(text.encode())},{len(text.encode())}\n"
        for path, text in members.items()
    )
    members[f"{info}/RECORD"] = record + f"{info}/RECORD,,\n"
    filename = f"{dist}-{version}-py3-none-any.whl"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path, text in members.items():
            info_ = zipfile.ZipInfo(path, date_time=(2024, 1, 1, 0, 0, 0))
            info_.compress_type = zipfile.ZIP_DEFLATED
            info_.external_attr = 0o644 << 16
            archive.writestr(info_, text)
    return Wheel(name=name, version=version, filename=filename, data=buf.getvalue())


# --- uploads ----------------------------------------------------------------------------------


def upload_fields(wheel: Wheel) -> dict[str, str]:
    """The form fields twine sends for a wheel (metadata subset that our wheels carry)."""
    return {
        ":action": "file_upload",
        "protocol_version": "1",
        "metadata_version": "2.1",
        "name": wheel.name,
        "version": wheel.version,
        "summary": "A package made by the index benchmark",
        "filetype": "bdist_wheel",
        "pyversion": "py3",
        "md5_digest": hashlib.md5(wheel.data, usedforsecurity=False).hexdigest(),
        "sha256_digest": hashlib.sha256(wheel.data).hexdigest(),
        "blake2_256_digest": hashlib.blake2b(wheel.data, digest_size=32).hexdigest(),
    }


@dataclass
class UploadStats:
    count: int
    seconds: float
    latencies: list[float]
    finish_times: list[float]
    failures: list[str] = field(default_factory=list)

    @property
    def files_per_second(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0

    def window_rate(self, first: bool, fraction: float = 0.1) -> float:
        """Files/s over the first or last `fraction` of the uploads, by completion time."""
        times = sorted(self.finish_times)
        n = max(1, int(len(times) * fraction))
        if len(times) <= n:
            return self.files_per_second
        span = times[n - 1] if first else times[-1] - times[-n - 1]
        return n / span if span > 0 else 0.0


def upload_all(
    label: str, url: str, auth: tuple[str, str], wheels: list[Wheel], concurrency: int
) -> UploadStats:
    local = threading.local()
    latencies: list[float] = []
    finish: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    done = [0]
    progress_every = max(1, len(wheels) // 10)
    start = time.perf_counter()

    def one(wheel: Wheel) -> None:
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
            session.headers["User-Agent"] = "index-bench (requests; twine-like form)"
        begin = time.perf_counter()
        try:
            response = session.post(
                url,
                data=upload_fields(wheel),
                files={"content": (wheel.filename, wheel.data, "application/octet-stream")},
                auth=auth,
                timeout=300,
            )
            ok = response.status_code == 200
            detail = f"{response.status_code} {response.text[:200]!r}"
        except requests.RequestException as exc:
            ok, detail = False, repr(exc)
        end = time.perf_counter()
        with lock:
            latencies.append(end - begin)
            finish.append(end - start)
            if not ok:
                failures.append(f"{wheel.filename}: {detail}")
            done[0] += 1
            if done[0] % progress_every == 0 or done[0] == len(wheels):
                rate = done[0] / (end - start)
                log(f"  {label}: {done[0]}/{len(wheels)} uploaded ({rate:.1f} files/s)")

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(one, wheels))
    seconds = time.perf_counter() - start
    stats = UploadStats(len(wheels), seconds, latencies, finish, failures)
    if failures:
        log(f"  {label}: {len(failures)} uploads FAILED, first: {failures[0]}")
    return stats


# --- CPU accounting ---------------------------------------------------------------------------
# Other work on a shared machine moves requests/s around; CPU seconds spent by a server's own
# processes per request move much less, so both are reported, with how busy the rest was.

CLK_TCK = os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU-seconds all CPUs have spent busy since boot (from /proc/stat)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


def group_cpu_seconds(pgid: int) -> float:
    """user+system CPU-seconds of every live process in a process group, with its reaped
    children's."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            rest = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        # rest[0] is field 3 (state); pgrp is field 5, utime..cstime are fields 14..17.
        if int(rest[2]) == pgid:
            total += sum(int(v) for v in rest[11:15])
    return total / CLK_TCK


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class CpuMeter:
    """CPU used by each server, and by everything else on the machine, between start() and
    stop(). `other` excludes both servers, this script and the programs it ran (wrk, pip)."""

    def __init__(self, groups: dict[str, int]) -> None:
        self.groups = groups

    def start(self) -> None:
        self.t0 = time.perf_counter()
        self.busy0 = machine_busy_seconds()
        self.mine0 = time.process_time() + children_cpu_seconds()
        self.group0 = {k: group_cpu_seconds(g) for k, g in self.groups.items()}

    def stop(self) -> dict:
        wall = time.perf_counter() - self.t0
        groups = {k: group_cpu_seconds(g) - self.group0[k] for k, g in self.groups.items()}
        mine = time.process_time() + children_cpu_seconds() - self.mine0
        busy = machine_busy_seconds() - self.busy0
        other = max(0.0, busy - mine - sum(groups.values()))
        cpus = os.cpu_count() or 1
        return {"wall": wall, "servers": groups, "other_share": other / (wall * cpus)}


def wait_for_quiet(max_wait: float, threshold: float) -> float:
    """Wait (up to max_wait s) until the machine's CPUs are less than `threshold` busy over a
    3 s sample; returns the last busy share seen."""
    cpus = os.cpu_count() or 1
    deadline = time.monotonic() + max_wait
    said = 0.0
    while True:
        b0, t0 = machine_busy_seconds(), time.perf_counter()
        time.sleep(3)
        share = (machine_busy_seconds() - b0) / ((time.perf_counter() - t0) * cpus)
        if share < threshold or time.monotonic() >= deadline:
            return share
        if time.monotonic() - said >= 30:
            left = deadline - time.monotonic()
            log(f"machine is {share:.0%} busy with other work; waiting up to {left:.0f} s more")
            said = time.monotonic()


# --- wrk --------------------------------------------------------------------------------------

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _to_ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not match:
        raise ValueError(f"unparsable wrk latency {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


@dataclass
class WrkResult:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int  # non-2xx/3xx responses plus socket errors
    raw: str = ""
    cpu_ms: float = 0.0  # the server's CPU time per request
    other_share: float = 0.0  # share of the machine's CPU used by other work meanwhile


def run_wrk(wrk: str, url: str, *, connections: int, seconds: float, headers: dict) -> WrkResult:
    threads = max(1, min(connections, os.cpu_count() or 1))
    cmd = [
        wrk,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "30s",
        "--latency",
    ]
    for name, value in headers.items():
        cmd += ["-H", f"{name}: {value}"]
    cmd.append(url)
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = _to_ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))
    p99 = _to_ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    errors = 0
    if m := re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out):
        errors += int(m.group(1))
    if m := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out):
        errors += sum(int(g) for g in m.groups())
    return WrkResult(rps, p50, p99, total, errors, out)


# --- pip --------------------------------------------------------------------------------------


def pip_download_seconds(index_url: str, requirement: str, python: str) -> float:
    env = clean_env(PIP_CONFIG_FILE=os.devnull)
    with tempfile.TemporaryDirectory(dir=RUN) as dest:
        cmd = [
            python,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--no-cache-dir",
            "--disable-pip-version-check",
            "--index-url",
            index_url,
            "--dest",
            dest,
            requirement,
        ]
        begin = time.perf_counter()
        result = subprocess.run(cmd, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - begin
        if result.returncode != 0 or not os.listdir(dest):
            sys.stderr.write(result.stdout + result.stderr)
            raise SystemExit(f"pip download failed: {shlex.join(cmd)}")
    return seconds


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


def start_index(servers: Servers, workers: int, threads: int, src: Path) -> Target:
    data_dir = RUN / "index-data"
    port = free_port()
    python = str(ROOT / ".venv" / "bin" / "python")
    if not Path(python).exists():
        python = sys.executable
    env = clean_env(
        DATA_DIR=str(data_dir),
        PORT=str(port),
        WEB_CONCURRENCY=str(workers),
        WEB_THREADS=str(threads),
        DJANGO_SUPERUSER_PASSWORD="bench-password",
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
    proc = servers.start(
        "index",
        [gunicorn, "-c", "pypi_site/gunicorn.py", "--no-control-socket", "pypi_site.wsgi"],
        env=env,
        cwd=src,
    )
    base = f"http://127.0.0.1:{port}"
    wait_ready("index", f"{base}/simple/", proc)
    return Target(
        "this index",
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


def start_pypiserver(servers: Servers, venv: Path, workers: int, backend: str) -> Target:
    home = RUN / "pypiserver"
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


def check_page(target: Target, project: str, accept: str, expected: int) -> dict:
    """Fetch a page the way the benchmark will, and check that it lists every file."""
    response = requests.get(
        f"{target.base}/simple/{project}/",
        headers={"Accept": accept, "Accept-Encoding": "gzip"},
        stream=True,
        timeout=60,
    )
    wire = response.raw.read(decode_content=False)
    response.raise_for_status()
    encoding = response.headers.get("Content-Encoding", "identity")
    body = gzip.decompress(wire) if encoding == "gzip" else wire
    if accept == JSON_ACCEPT:
        count = len(json.loads(body)["files"])
    else:
        count = len(re.findall(rb"<a ", body))
    if count != expected:
        raise SystemExit(
            f"{target.label} lists {count} files for {project} ({accept}), expected {expected}"
        )
    return {"bytes": len(body), "wire_bytes": len(wire), "encoding": encoding}


# --- report -----------------------------------------------------------------------------------


def fmt_num(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "n/a"
    if digits == 0 and value >= 100:
        return f"{value:,.0f}"
    if value >= 100:
        return f"{value:,.{digits}f}"
    return f"{value:.{max(digits, 1) if value < 10 else digits or 1}f}"


def ratio(a: float | None, b: float | None) -> str:
    if not a or not b:
        return "n/a"
    return f"{a / b:.2f}x"


def machine_facts() -> dict:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = "unknown"
    with contextlib.suppress(OSError, ValueError, IndexError):
        kb = int(Path("/proc/meminfo").read_text().split("MemTotal:")[1].split()[0])
        mem = f"{kb / 1024 / 1024:.0f} GiB"
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory": mem,
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def build_report(args, facts, versions, results, page_sizes, command: str) -> tuple[str, str]:
    n = args.files
    upload = results["upload"]
    reads = results["reads"]
    pip = results["pip"]
    lines = []
    lines.append("| Measurement | this index | pypiserver | ratio (index / pypiserver) |")
    lines.append("|---|---:|---:|---:|")
    ix, ps = upload["this index"], upload["pypiserver"]
    lines.append(
        f"| Upload {n:,} wheels into one project, {args.upload_concurrency} at a time: "
        f"files/s (higher is better) | {ix['files_per_s']:.1f} | {ps['files_per_s']:.1f} | "
        f"{ratio(ix['files_per_s'], ps['files_per_s'])} |"
    )
    lines.append(
        f"| ... files/s over the first / last 10% of those uploads | "
        f"{ix['first_rate']:.1f} / {ix['last_rate']:.1f} | "
        f"{ps['first_rate']:.1f} / {ps['last_rate']:.1f} | "
        f"{ratio(ix['first_rate'], ps['first_rate'])} / {ratio(ix['last_rate'], ps['last_rate'])} |"
    )
    lines.append(
        f"| ... upload latency p50 / p99, ms (lower is better) | "
        f"{ix['p50_ms']:.0f} / {ix['p99_ms']:.0f} | {ps['p50_ms']:.0f} / {ps['p99_ms']:.0f} | "
        f"{ratio(ix['p50_ms'], ps['p50_ms'])} / {ratio(ix['p99_ms'], ps['p99_ms'])} |"
    )
    lines.append(
        f"| ... server CPU time per upload, ms (lower is better) | {ix['cpu_ms']:.1f} | "
        f"{ps['cpu_ms']:.1f} | {ratio(ix['cpu_ms'], ps['cpu_ms'])} |"
    )
    read_rows = []
    for project, files in ((ONE, 1), (BIG, n)):
        for fmt_name, accept in (("HTML", HTML_ACCEPT), ("JSON", JSON_ACCEPT)):
            for conns in args.connections:
                ix_r = reads.get(f"this index|{project}|{accept}|{conns}")
                ps_r = reads.get(f"pypiserver|{project}|{HTML_ACCEPT}|{conns}")
                if not ix_r or not ps_r:
                    continue
                vs = "" if accept == HTML_ACCEPT else " (vs pypiserver HTML)"
                label = f"GET /simple/ {files:,}-file page, {fmt_name}{vs}, {conns} conn."
                read_rows.append((label, ix_r, ps_r))
    lines.append("| **Reads (wrk, gzip accepted): requests/s, higher is better** | | | |")
    for label, ix_r, ps_r in read_rows:
        lines.append(
            f"| {label}: req/s | {ix_r['rps']:,.0f} | {ps_r['rps']:,.0f} | "
            f"{ratio(ix_r['rps'], ps_r['rps'])} |"
        )
    lines.append("| **Reads: p99 latency in ms, lower is better** | | | |")
    for label, ix_r, ps_r in read_rows:
        lines.append(
            f"| {label}: p99 ms | {ix_r['p99_ms']:.1f} | {ps_r['p99_ms']:.1f} | "
            f"{ratio(ix_r['p99_ms'], ps_r['p99_ms'])} |"
        )
    lines.append(
        "| **Reads: server CPU time per request in ms (all its processes), lower is better** "
        "| | | |"
    )
    for label, ix_r, ps_r in read_rows:
        lines.append(
            f"| {label}: CPU ms/req | {ix_r['cpu_ms']:.2f} | {ps_r['cpu_ms']:.2f} | "
            f"{ratio(ix_r['cpu_ms'], ps_r['cpu_ms'])} |"
        )
    lines.append(
        f"| **pip download --no-deps, seconds (median of {args.pip_runs}), lower is better**"
        " | | | |"
    )
    for req_label, key in (
        (f"{ONE}==1.0 (1-file page)", "one"),
        (f"{BIG}=={big_pin(n)} ({n:,}-file page)", "big"),
    ):
        a, b = pip["this index"].get(key), pip["pypiserver"].get(key)
        if a is None or b is None:
            continue
        lines.append(f"| pip download {req_label} | {a:.2f} | {b:.2f} | {ratio(a, b)} |")
    table = "\n".join(lines)

    # Target checks.
    checks = []
    worst = min(
        ((ix_r["rps"] / ps_r["rps"], label) for label, ix_r, ps_r in read_rows),
        default=(0, ""),
    )
    checks.append(
        f"- Reads at least 3x pypiserver on every row: "
        f"{'met' if worst[0] >= 3 else 'NOT met'} by requests/s (lowest ratio {worst[0]:.2f}x, "
        f"{worst[1]})."
    )
    cpu_worst = min(
        ((ps_r["cpu_ms"] / ix_r["cpu_ms"], label) for label, ix_r, ps_r in read_rows),
        default=(0, ""),
    )
    checks.append(
        f"  By CPU time per request (pypiserver's / this index's, which other work on the "
        f"machine disturbs less): {'met' if cpu_worst[0] >= 3 else 'NOT met'} (lowest "
        f"{cpu_worst[0]:.2f}x, {cpu_worst[1]})."
    )
    flat = []
    flat_cpu = []
    for accept, name in ((HTML_ACCEPT, "HTML"), (JSON_ACCEPT, "JSON")):
        for conns in args.connections:
            one = reads.get(f"this index|{ONE}|{accept}|{conns}")
            big = reads.get(f"this index|{BIG}|{accept}|{conns}")
            if one and big:
                flat.append((f"{name} {conns} conn.", big["rps"] / one["rps"]))
                flat_cpu.append(big["cpu_ms"] / one["cpu_ms"])
    if flat:
        lo = min(v for _k, v in flat)
        detail = ", ".join(f"{k} {v:.2f}" for k, v in flat)
        checks.append(
            f"- Flat from 1 to {n:,} files (this index, {n:,}-file req/s / 1-file req/s): "
            f"{detail}; lowest {lo:.2f} ({'flat' if lo >= 0.8 else 'NOT flat'}, taking >= 0.8)."
            f" CPU per request, {n:,}-file / 1-file: {min(flat_cpu):.2f} to "
            f"{max(flat_cpu):.2f}."
        )
        ps_flat = []
        for conns in args.connections:
            one = reads.get(f"pypiserver|{ONE}|{HTML_ACCEPT}|{conns}")
            big = reads.get(f"pypiserver|{BIG}|{HTML_ACCEPT}|{conns}")
            if one and big:
                ps_flat.append(f"{conns} conn. {big['rps'] / one['rps']:.2f}")
        checks.append(f"  pypiserver, same ratio (HTML): {', '.join(ps_flat)}.")
    up = ix["files_per_s"] / ps["files_per_s"] if ps["files_per_s"] else 0
    checks.append(
        f"- Uploads no slower than pypiserver: {'met' if up >= 1 else 'NOT met'} ({up:.2f}x "
        f"files/s; server CPU per upload {ratio(ix['cpu_ms'], ps['cpu_ms'])} of pypiserver's)."
    )
    errors = [k for k, v in reads.items() if v.get("errors")]
    if errors:
        checks.append(f"- wrk saw non-2xx/3xx or socket errors in: {', '.join(errors)}.")
    if ix["failures"] or ps["failures"]:
        checks.append(
            f"- Upload failures: this index {ix['failures']}, pypiserver {ps['failures']}."
        )

    sizes = []
    for key, info in sorted(page_sizes.items()):
        sizes.append(
            f"{key}: {info['bytes']:,} bytes, {info['wire_bytes']:,} on the wire "
            f"({info['encoding']})"
        )

    shares = [r["other_share"] for run_ in reads.values() for r in run_["runs"]]
    other = (
        f"{statistics.median(shares):.0%} (median) and {max(shares):.0%} (max)" if shares else "n/a"
    )
    up_other = ", ".join(f"{k} {v['other_share']:.0%}" for k, v in upload.items())

    workers = args.workers
    v_ix, v_ps = versions["index"], versions["pypiserver"]
    backend = args.pypiserver_backend
    size_lines = "\n".join(f"  - {line}" for line in sizes)
    md = f"""# Benchmarks: this index vs pypiserver

Generated by `bench/run.py` on {results["date"]}; `make bench` runs it again and rewrites this file.

Command:

```sh
{command}
```

## Machine

- {facts["nproc"]} CPUs ({facts["cpu"]}), {facts["memory"]} RAM, Linux {facts["kernel"]}.
- Python {facts["python"]}; wrk {versions["wrk"]}.
- wrk, both servers and pip all run on this one machine and talk over loopback.
- 1-minute load average: {facts["load_before"]:.2f} before the run, {facts["load_after"]:.2f} at its end (other work on the machine shows up here).

## Set-up

Both servers run at the same time, each with **{workers} gunicorn worker processes**.
Each one is measured while the other is idle.

- **This index**, {results["source"]}: `gunicorn -c pypi_site/gunicorn.py pypi_site.wsgi`, gthread workers, WEB_CONCURRENCY={workers}, WEB_THREADS={args.threads}.
  Embedded mode: a fresh SQLite database (WAL) and files under `bench/.work/run/index-data`, locmem cache.
  Django {v_ix["django"]}, gunicorn {v_ix["gunicorn"]}.
  Uploads authenticate with an API token (HTTP Basic `__token__`).
- **pypiserver** {v_ps["pypiserver"]} (the latest on the registry when its venv was made), with the `cache` and `passlib` extras.
  It runs as its container image runs it, as far as that is correct: gunicorn {v_ps["gunicorn"]} with gevent {v_ps["gevent"]} workers (the image's `docker/gunicorn.conf.py`), workers={workers}.
  The app is `pypiserver:app(root=..., backend_arg={backend!r}, authenticate=[], password_file='.', disable_fallback=True)`, the gunicorn form from its README; it is the same as `--backend {backend} -a . -P . --disable-fallback`.
  Watchdog {v_ps["watchdog"]} is installed for the cached backend.
  It runs with no authentication, so its uploads do less work than ours.
- Why not the image's exact `pypi-server run --server gunicorn` with `preload_app = True`?
  That imports the app before gevent patches `threading`, so every greenlet in a worker shares bottle's thread-local `request`.
  With 4 concurrent uploads here, one upload got a 400 "already exists" naming another upload's file, and its own file was never stored.
  Reads looked unaffected, but an upload row with lost files would not be a measurement.

## Method

- Uploads: {n:,} distinct small wheels (about {results["wheel_bytes"]:,} bytes each) go into one project, POSTed as twine does (multipart form, `:action=file_upload`, digests), by {args.upload_concurrency} client threads.
  This is also how the {n:,}-file project gets its files.
  Elapsed: this index {ix["seconds"]:.1f} s, pypiserver {ps["seconds"]:.1f} s.
- Reads: `wrk --latency`, {args.duration:g} s per run after a {args.warmup:g} s warm-up per URL, with `Accept-Encoding: gzip` as pip sends it.
  HTML rows send `Accept: text/html`; JSON rows send `Accept: {JSON_ACCEPT}`.
  pypiserver serves no JSON, so the JSON rows are compared with its HTML.
  Each cell is the median of {args.repeat} run(s), and the two servers take turns run by run.
- pip: `pip download --no-deps --no-cache-dir --disable-pip-version-check --index-url <server>/simple/ <pin>`, with `PIP_CONFIG_FILE=/dev/null` and no other `PIP_*` variables; median of {args.pip_runs}.
  Most of this time is pip's own start-up.
- CPU: user+system time of every process in the server's process group (read from /proc) over the run, divided by the requests wrk completed (or the files uploaded).
- Other work on the machine (not these servers, wrk, pip or this script) used {other} of all CPUs during the read runs.
  During the uploads it used: {up_other}.
  When that share is high, requests/s and p99 are disturbed, and the CPU rows are the steadier comparison.
- Page sizes:
{size_lines}

## Results

{table}

## Against the targets

Targets: at least 3x pypiserver on every read row, flat from 1 to {n:,} files, and no slower on uploads.

{chr(10).join(checks)}
"""  # noqa: E501 - markdown prose, one sentence a line
    return table, md


def big_pin(n: int) -> str:
    return f"1.0.{n // 2}"


# --- main -------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark this index against pypiserver (uploads, simple API reads with "
        "wrk, pip download) and write BENCHMARKS.md.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    cpus = os.cpu_count() or 1
    parser.add_argument(
        "--workers", type=int, default=2 * cpus, help="gunicorn worker processes for BOTH servers"
    )
    parser.add_argument(
        "--threads", type=int, default=4, help="threads per worker for this index (WEB_THREADS)"
    )
    parser.add_argument(
        "--files", type=int, default=2000, help="wheels uploaded into the big project"
    )
    parser.add_argument("--upload-concurrency", type=int, default=4)
    parser.add_argument("--duration", type=float, default=10, help="seconds per wrk run")
    parser.add_argument("--warmup", type=float, default=2, help="seconds of wrk warm-up per URL")
    parser.add_argument(
        "--connections", default="1,8,32", help="comma-separated wrk connection counts"
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="wrk runs per cell (the table shows the median)"
    )
    parser.add_argument("--pip-runs", type=int, default=5, help="pip downloads per cell")
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        help="markdown report (default BENCHMARKS.md; bench/.work/quick.md with --quick)",
    )
    parser.add_argument("--no-write", action="store_true", help="only print the table")
    parser.add_argument(
        "--from-results",
        type=Path,
        metavar="JSON",
        help="measure nothing: rewrite the report from a saved bench/.work/results.json",
    )
    parser.add_argument(
        "--reinstall-pypiserver",
        action="store_true",
        help="recreate bench/.work/pypiserver-venv with the latest pypiserver",
    )
    parser.add_argument(
        "--source",
        metavar="REV",
        default=None,
        help="run this index from `git archive REV` (e.g. HEAD) instead of the work tree",
    )
    parser.add_argument(
        "--pypiserver-backend",
        choices=("cached-dir", "simple-dir"),
        default="cached-dir",
        help="pypiserver's backend; simple-dir (what it runs without watchdog) rescans the "
        "directory on every request",
    )
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=300,
        metavar="SECONDS",
        help="before measuring, wait up to this long for other work on the machine to stop",
    )
    parser.add_argument(
        "--quiet-below",
        type=float,
        default=0.15,
        metavar="SHARE",
        help="what counts as quiet for --wait-quiet: share of all CPUs busy",
    )
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 100 files, 2 s runs, 1 repeat, 1 pip run"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.wait_quiet = 0
        args.files = min(args.files, 100)
        args.duration = min(args.duration, 2)
        args.warmup = min(args.warmup, 1)
        args.repeat = 1
        args.pip_runs = 1
    if args.output is None:
        args.output = WORK / "quick.md" if args.quick else ROOT / "BENCHMARKS.md"
    args.connections = [int(c) for c in str(args.connections).split(",") if c.strip()]
    if args.files < 2:
        parser.error("--files must be at least 2")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.from_results:
        saved = json.loads(args.from_results.read_text())
        return write_report(saved, output=None if args.no_write else args.output)
    command = shlex.join(
        ["make", "bench"]
        + (
            [f"BENCH_ARGS={shlex.join(argv if argv is not None else sys.argv[1:])}"]
            if (argv if argv is not None else sys.argv[1:])
            else []
        )
    )
    facts = machine_facts()
    facts["load_before"] = os.getloadavg()[0]
    if facts["load_before"] > 0.5:
        log(f"warning: 1-minute load average is {facts['load_before']:.2f} before starting")
    log(f"machine: {facts['nproc']} CPUs, {facts['memory']}, Python {facts['python']}")
    log(
        f"both servers: {args.workers} gunicorn workers "
        f"(this index: gthread x {args.threads} threads; pypiserver: gevent)"
    )

    wrk = ensure_wrk()
    wrk_version = subprocess.run([wrk, "--version"], capture_output=True, text=True).stdout
    wrk_version = wrk_version.split()[1] if wrk_version.split() else "unknown"
    venv = ensure_pypiserver(args.reinstall_pypiserver)
    index_python = ROOT / ".venv" / "bin" / "python"
    if not index_python.exists():
        index_python = Path(sys.executable)
    versions = {
        "wrk": wrk_version,
        "index": package_versions(index_python, ["django", "gunicorn"]),
        "pypiserver": package_versions(
            venv / "bin" / "python", ["pypiserver", "gunicorn", "gevent", "watchdog"]
        ),
    }
    log(f"pypiserver venv: {versions['pypiserver']}")

    if RUN.exists():
        shutil.rmtree(RUN)
    RUN.mkdir(parents=True)

    src, source = prepare_source(args.source)
    log(f"this index runs from {source['description']}")
    log(f"generating {args.files + 1} wheels")
    one_wheel = make_wheel(ONE, "1.0")
    big_wheels = [make_wheel(BIG, f"1.0.{i}") for i in range(args.files)]

    servers = Servers()

    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    results: dict = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "wheel_bytes": len(big_wheels[0].data),
        "upload": {},
        "reads": {},
        "pip": {},
        "source": source["description"],
    }
    page_sizes: dict = {}
    try:
        index = start_index(servers, args.workers, args.threads, src)
        pps = start_pypiserver(servers, venv, args.workers, args.pypiserver_backend)
        targets = [index, pps]
        meter = CpuMeter({t.label: t.pgid for t in targets})
        if args.wait_quiet > 0:
            share = wait_for_quiet(args.wait_quiet, args.quiet_below)
            log(f"machine is {share:.0%} busy before measuring")

        # Uploads (and population).
        for target in targets:
            stats = upload_all(
                f"{target.label} {ONE}", target.upload_url, target.auth, [one_wheel], 1
            )
            if stats.failures:
                raise SystemExit(f"{target.label}: upload failed: {stats.failures[0]}")
        for target in targets:
            log(
                f"{target.label}: uploading {args.files} wheels into {BIG}, "
                f"{args.upload_concurrency} at a time"
            )
            meter.start()
            stats = upload_all(
                target.label, target.upload_url, target.auth, big_wheels, args.upload_concurrency
            )
            cpu = meter.stop()
            lat = sorted(stats.latencies)
            results["upload"][target.label] = {
                "files_per_s": stats.files_per_second,
                "seconds": stats.seconds,
                "first_rate": stats.window_rate(first=True),
                "last_rate": stats.window_rate(first=False),
                "p50_ms": statistics.median(lat) * 1000,
                "p99_ms": lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000,
                "failures": len(stats.failures),
                "cpu_ms": cpu["servers"][target.label] * 1000 / args.files,
                "other_share": cpu["other_share"],
            }
            log(
                f"{target.label}: {stats.files_per_second:.1f} files/s "
                f"({stats.seconds:.1f} s for {args.files}), server CPU "
                f"{results['upload'][target.label]['cpu_ms']:.1f} ms per upload, other work "
                f"{cpu['other_share']:.0%} of the machine"
            )

        # Check what the readers will get.
        for target in targets:
            for project, expected in ((ONE, 1), (BIG, args.files)):
                for accept in target.formats:
                    info = check_page(target, project, accept, expected)
                    kind = "JSON" if accept == JSON_ACCEPT else "HTML"
                    page_sizes[f"{target.label} {expected:,}-file {kind}"] = info
        log("both servers list every uploaded file")

        # Reads.
        cells = []
        for project in (ONE, BIG):
            for accept in (HTML_ACCEPT, JSON_ACCEPT):
                for conns in args.connections:
                    for target in targets:
                        if accept in target.formats:
                            cells.append((target, project, accept, conns))
        raw: dict[str, list[WrkResult]] = {}
        warmed = set()
        total = len(cells) * args.repeat
        done = 0
        for _ in range(args.repeat):
            for target, project, accept, conns in cells:
                url = f"{target.base}/simple/{project}/"
                headers = {"Accept": accept, "Accept-Encoding": "gzip"}
                if (url, accept) not in warmed and args.warmup > 0:
                    run_wrk(
                        wrk,
                        url,
                        connections=max(args.connections),
                        seconds=args.warmup,
                        headers=headers,
                    )
                    warmed.add((url, accept))
                meter.start()
                result = run_wrk(
                    wrk, url, connections=conns, seconds=args.duration, headers=headers
                )
                cpu = meter.stop()
                result.cpu_ms = cpu["servers"][target.label] * 1000 / max(1, result.requests)
                result.other_share = cpu["other_share"]
                key = f"{target.label}|{project}|{accept}|{conns}"
                raw.setdefault(key, []).append(result)
                done += 1
                kind = "JSON" if accept == JSON_ACCEPT else "HTML"
                log(
                    f"  [{done}/{total}] {target.label:10} {project} {kind} c={conns:<3} "
                    f"{result.rps:8.1f} req/s  p99 {result.p99_ms:7.1f} ms  "
                    f"CPU {result.cpu_ms:6.2f} ms/req  other work {result.other_share:4.0%}"
                    + (f"  ERRORS {result.errors}" if result.errors else "")
                )
        for key, runs in raw.items():
            results["reads"][key] = {
                "rps": median([r.rps for r in runs]),
                "p50_ms": median([r.p50_ms for r in runs]),
                "p99_ms": median([r.p99_ms for r in runs]),
                "cpu_ms": median([r.cpu_ms for r in runs]),
                "other_share": max(r.other_share for r in runs),
                "errors": sum(r.errors for r in runs),
                "runs": [
                    {
                        "rps": r.rps,
                        "p99_ms": r.p99_ms,
                        "cpu_ms": r.cpu_ms,
                        "other_share": r.other_share,
                    }
                    for r in runs
                ],
            }

        # pip download.
        pins = {"one": f"{ONE}==1.0", "big": f"{BIG}=={big_pin(args.files)}"}
        times: dict[str, dict[str, list[float]]] = {t.label: {} for t in targets}
        for i in range(args.pip_runs):
            for key, pin in pins.items():
                for target in targets:
                    seconds = pip_download_seconds(f"{target.base}/simple/", pin, str(index_python))
                    times[target.label].setdefault(key, []).append(seconds)
                    log(
                        f"  pip download {pin} via {target.label}: {seconds:.2f} s "
                        f"(run {i + 1}/{args.pip_runs})"
                    )
        results["pip"] = {label: {k: median(v) for k, v in d.items()} for label, d in times.items()}
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    finally:
        servers.stop_all()

    facts["load_after"] = os.getloadavg()[0]
    saved = {
        "command": command,
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "facts": facts,
        "versions": versions,
        "results": results,
        "page_sizes": page_sizes,
    }
    (WORK / "results.json").write_text(json.dumps(saved, indent=2))
    return write_report(saved, output=None if args.no_write else args.output)


# Options that shape the report; --from-results takes them from the saved run.
REPORT_ARGS = [
    "workers",
    "threads",
    "files",
    "upload_concurrency",
    "duration",
    "warmup",
    "connections",
    "repeat",
    "pip_runs",
    "pypiserver_backend",
]


def write_report(saved: dict, output: Path | None) -> int:
    args = argparse.Namespace(**{k: saved["args"][k] for k in REPORT_ARGS})
    table, md = build_report(
        args,
        saved["facts"],
        saved["versions"],
        saved["results"],
        saved["page_sizes"],
        saved["command"],
    )
    print()
    print(table, flush=True)
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(md)
        log(f"wrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
