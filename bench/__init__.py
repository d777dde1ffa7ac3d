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

Modules: `servers` (start and stop both indexes, install wrk and pypiserver), `cpu` (CPU
accounting), `workloads` (uploads, wrk runs, pip downloads), `report` (medians, ratios,
BENCHMARKS.md) and `run` (the command line). The wheels and the upload form come from
tests/dists.py, the same ones the tests use.

Run it as `make bench` (or `.venv/bin/python bench/run.py --help`); `--quick` is a smoke run.
"""

from __future__ import annotations

import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / ".work"
RUN = WORK / "run"  # wiped at every run
LOGS = RUN / "logs"

T0 = time.monotonic()


def log(message: str) -> None:
    print(f"[{time.monotonic() - T0:7.1f}s] {message}", flush=True)
