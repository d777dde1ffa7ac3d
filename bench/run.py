#!/usr/bin/env python3
"""`make bench`: benchmark this index against pypiserver and write BENCHMARKS.md (see
bench/__init__.py for what one run measures). `python bench/run.py --help` lists the options;
`--quick` is a smoke run. `python -m bench` is the same command."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shlex
import shutil
import signal
import sys
from pathlib import Path

if __name__ == "__main__" and not __package__:
    # Run as a script: import from the repository root, as `python -m bench` would, so `bench.*`
    # and `tests.dists` resolve and bench/'s own module names shadow nothing.
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

from bench import ROOT, RUN, WORK, log  # noqa: E402
from bench.cpu import CpuMeter, wait_for_quiet  # noqa: E402
from bench.report import (  # noqa: E402
    machine_facts,
    summarize_pip,
    summarize_reads,
    summarize_uploads,
    write_report,
)
from bench.servers import (  # noqa: E402
    POSTGRES,
    Servers,
    ensure_pypiserver,
    ensure_wrk,
    index_python,
    package_versions,
    prepare_source,
    start_index,
    start_pypiserver,
    wrk_version,
)
from bench.workloads import (  # noqa: E402
    BIG,
    ONE,
    bench_wheel,
    check_pages,
    measure_pip,
    measure_reads,
    measure_uploads,
)


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
    parser.add_argument(
        "--upload-rounds",
        type=int,
        default=3,
        help="upload runs, each into freshly started servers with empty data (the table "
        "shows medians; the reads use the last round's servers)",
    )
    parser.add_argument(
        "--database-url",
        default="",
        metavar="URL",
        help="also measure uploads on this index with PostgreSQL and Redis (the production "
        "configuration): a database of the benchmark's own, dropped and created again each "
        "round (its name must contain 'bench')",
    )
    parser.add_argument(
        "--redis-url",
        default="",
        metavar="URL",
        help="the Redis database for --database-url (emptied each round)",
    )
    parser.add_argument(
        "--only-uploads", action="store_true", help="measure uploads only (no reads, no pip)"
    )
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
        args.upload_rounds = 1
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
    if args.upload_rounds < 1:
        parser.error("--upload-rounds must be at least 1")
    if bool(args.database_url) != bool(args.redis_url):
        parser.error("--database-url and --redis-url go together")
    return args


def start_targets(servers: Servers, *, args: argparse.Namespace, venv: Path, src: Path) -> list:
    """This index embedded, on PostgreSQL (with --database-url), and pypiserver, all fresh."""
    targets = [start_index(servers, workers=args.workers, threads=args.threads, src=src)]
    if args.database_url:
        targets.append(
            start_index(
                servers,
                workers=args.workers,
                threads=args.threads,
                src=src,
                database_url=args.database_url,
                redis_url=args.redis_url,
            )
        )
    targets.append(
        start_pypiserver(servers, venv=venv, workers=args.workers, backend=args.pypiserver_backend)
    )
    return targets


def main(argv: list[str] | None = None) -> int:
    """1. Install wrk and pypiserver if missing; 2. start both servers; 3. uploads, reads, pip;
    4. stop the servers, save bench/.work/results.json and write the report."""
    args = parse_args(argv)
    if args.from_results:
        saved = json.loads(args.from_results.read_text())
        return write_report(saved, output=None if args.no_write else args.output)
    given = argv if argv is not None else sys.argv[1:]
    command = shlex.join(["make", "bench"] + ([f"BENCH_ARGS={shlex.join(given)}"] if given else []))
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
    venv = ensure_pypiserver(args.reinstall_pypiserver)
    python = index_python()
    versions = {
        "wrk": wrk_version(wrk),
        "index": package_versions(python, ["django", "gunicorn"]),
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
    one_wheel = bench_wheel(ONE, "1.0")
    big_wheels = [bench_wheel(BIG, f"1.0.{i}") for i in range(args.files)]

    servers = Servers()

    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    results: dict = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "wheel_bytes": len(big_wheels[0].content),
        "source": source["description"],
    }
    page_sizes: dict = {}
    try:
        rounds = []
        for number in range(1, args.upload_rounds + 1):
            # Every round starts from empty servers: pypiserver slows as its folder fills, and
            # a repeat must measure the same thing.
            servers.stop_all()
            targets = start_targets(servers, args=args, venv=venv, src=src)
            meter = CpuMeter({t.label: t.pgid for t in targets})
            if args.wait_quiet > 0:
                share = wait_for_quiet(max_wait=args.wait_quiet, threshold=args.quiet_below)
                log(f"machine is {share:.0%} busy before measuring")
            log(f"upload round {number} of {args.upload_rounds}")
            rounds.append(
                measure_uploads(
                    targets,
                    meter=meter,
                    one_wheel=one_wheel,
                    big_wheels=big_wheels,
                    concurrency=args.upload_concurrency,
                )
            )
        results["upload"] = summarize_uploads(rounds)
        readers = [t for t in targets if t.label != POSTGRES]
        results["reads"], results["pip"] = {}, {}
        if not args.only_uploads:
            page_sizes = check_pages(readers, files=args.files)
            raw = measure_reads(
                readers,
                wrk=wrk,
                meter=meter,
                connections=args.connections,
                seconds=args.duration,
                warmup=args.warmup,
                repeat=args.repeat,
            )
            results["reads"] = summarize_reads(raw)
            times = measure_pip(readers, files=args.files, runs=args.pip_runs, python=str(python))
            results["pip"] = summarize_pip(times)
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


if __name__ == "__main__":
    sys.exit(main())
