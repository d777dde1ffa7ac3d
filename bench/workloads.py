"""What a benchmark run measures against each server: uploads, simple pages read by wrk at N
connections, and `pip download`. Each phase returns raw numbers; bench/report.py takes medians and
ratios."""

from __future__ import annotations

import gzip
import json
import os
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import requests

from bench import RUN, log
from bench.cpu import CpuMeter
from bench.servers import HTML_ACCEPT, JSON_ACCEPT, Target, clean_env
from tests.dists import make_wheel, metadata_text, upload_files, upload_form

ONE = "bench-one"  # project with a single file
BIG = "bench-big"  # project with --files files
SUMMARY = "A package made by the index benchmark"


def big_pin(n: int) -> str:
    """The version pip downloads from the n-file project: one in the middle."""
    return f"1.0.{n // 2}"


# --- uploads ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Wheel:
    name: str
    version: str
    filename: str
    content: bytes


def bench_wheel(name: str, version: str) -> Wheel:
    """A small, valid wheel (tests/dists.py) whose bytes differ for every (name, version)."""
    metadata = metadata_text(name, version, f"Summary: {SUMMARY}\n")
    filename, content = make_wheel(name, version, metadata=metadata)
    return Wheel(name=name, version=version, filename=filename, content=content)


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
    label: str, *, url: str, auth: tuple[str, str], wheels: list[Wheel], concurrency: int
) -> UploadStats:
    """POST every wheel as twine does, `concurrency` at a time, one session per thread."""
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
                data=upload_form(
                    name=wheel.name, version=wheel.version, content=wheel.content, summary=SUMMARY
                ),
                files=upload_files(wheel.filename, wheel.content),
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


# --- reads (wrk) ------------------------------------------------------------------------------

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


# --- pip download -----------------------------------------------------------------------------


def pip_download_seconds(*, index_url: str, requirement: str, python: str) -> float:
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


def check_page(target: Target, *, project: str, accept: str, expected: int) -> dict:
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


# --- the phases of a run ----------------------------------------------------------------------


def measure_uploads(
    targets: list[Target],
    *,
    meter: CpuMeter,
    one_wheel: Wheel,
    big_wheels: list[Wheel],
    concurrency: int,
) -> dict[str, dict]:
    """Upload the 1-file project into each server, then time uploading the big one's wheels;
    per server: files/s, rates over the first and last 10%, latency, server CPU per upload."""
    for target in targets:
        stats = upload_all(
            f"{target.label} {ONE}",
            url=target.upload_url,
            auth=target.auth,
            wheels=[one_wheel],
            concurrency=1,
        )
        if stats.failures:
            raise SystemExit(f"{target.label}: upload failed: {stats.failures[0]}")
    results = {}
    files = len(big_wheels)
    for target in targets:
        log(f"{target.label}: uploading {files} wheels into {BIG}, {concurrency} at a time")
        meter.start()
        stats = upload_all(
            target.label,
            url=target.upload_url,
            auth=target.auth,
            wheels=big_wheels,
            concurrency=concurrency,
        )
        cpu = meter.stop()
        lat = sorted(stats.latencies)
        results[target.label] = {
            "files_per_s": stats.files_per_second,
            "seconds": stats.seconds,
            "first_rate": stats.window_rate(first=True),
            "last_rate": stats.window_rate(first=False),
            "p50_ms": statistics.median(lat) * 1000,
            "p99_ms": lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000,
            "failures": len(stats.failures),
            "cpu_ms": cpu["servers"][target.label] * 1000 / files,
            "other_share": cpu["other_share"],
        }
        log(
            f"{target.label}: {stats.files_per_second:.1f} files/s "
            f"({stats.seconds:.1f} s for {files}), server CPU "
            f"{results[target.label]['cpu_ms']:.1f} ms per upload, other work "
            f"{cpu['other_share']:.0%} of the machine"
        )
    return results


def check_pages(targets: list[Target], *, files: int) -> dict[str, dict]:
    """Check that every page the readers will get lists every file; the page sizes."""
    page_sizes = {}
    for target in targets:
        for project, expected in ((ONE, 1), (BIG, files)):
            for accept in target.formats:
                info = check_page(target, project=project, accept=accept, expected=expected)
                kind = "JSON" if accept == JSON_ACCEPT else "HTML"
                page_sizes[f"{target.label} {expected:,}-file {kind}"] = info
    log("both servers list every uploaded file")
    return page_sizes


def measure_reads(
    targets: list[Target],
    *,
    wrk: str,
    meter: CpuMeter,
    connections: list[int],
    seconds: float,
    warmup: float,
    repeat: int,
) -> dict[str, list[WrkResult]]:
    """wrk on each simple page, format and connection count, `repeat` times with the servers
    taking turns run by run; the runs by "label|project|accept|connections"."""
    cells = []
    for project in (ONE, BIG):
        for accept in (HTML_ACCEPT, JSON_ACCEPT):
            for conns in connections:
                for target in targets:
                    if accept in target.formats:
                        cells.append((target, project, accept, conns))
    raw: dict[str, list[WrkResult]] = {}
    warmed = set()
    total = len(cells) * repeat
    done = 0
    for _ in range(repeat):
        for target, project, accept, conns in cells:
            url = f"{target.base}/simple/{project}/"
            headers = {"Accept": accept, "Accept-Encoding": "gzip"}
            if (url, accept) not in warmed and warmup > 0:
                run_wrk(wrk, url, connections=max(connections), seconds=warmup, headers=headers)
                warmed.add((url, accept))
            meter.start()
            result = run_wrk(wrk, url, connections=conns, seconds=seconds, headers=headers)
            cpu = meter.stop()
            result.cpu_ms = cpu["servers"][target.label] * 1000 / max(1, result.requests)
            result.other_share = cpu["other_share"]
            raw.setdefault(f"{target.label}|{project}|{accept}|{conns}", []).append(result)
            done += 1
            kind = "JSON" if accept == JSON_ACCEPT else "HTML"
            log(
                f"  [{done}/{total}] {target.label:10} {project} {kind} c={conns:<3} "
                f"{result.rps:8.1f} req/s  p99 {result.p99_ms:7.1f} ms  "
                f"CPU {result.cpu_ms:6.2f} ms/req  other work {result.other_share:4.0%}"
                + (f"  ERRORS {result.errors}" if result.errors else "")
            )
    return raw


def measure_pip(
    targets: list[Target], *, files: int, runs: int, python: str
) -> dict[str, dict[str, list[float]]]:
    """`pip download` of one pinned file from the 1-file and the big project through each
    server, `runs` times; the seconds by label and "one"/"big"."""
    pins = {"one": f"{ONE}==1.0", "big": f"{BIG}=={big_pin(files)}"}
    times: dict[str, dict[str, list[float]]] = {t.label: {} for t in targets}
    for i in range(runs):
        for key, pin in pins.items():
            for target in targets:
                seconds = pip_download_seconds(
                    index_url=f"{target.base}/simple/", requirement=pin, python=python
                )
                times[target.label].setdefault(key, []).append(seconds)
                log(
                    f"  pip download {pin} via {target.label}: {seconds:.2f} s (run {i + 1}/{runs})"
                )
    return times
