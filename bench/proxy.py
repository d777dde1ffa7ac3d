"""`python -m bench.proxy`: a page the upstream proxy serves from its cache against a local page
of the same size, on one server of this index, and the proxied rows of BENCHMARKS.md.

The upstream is tests/proxy/upstream_server.py's static PEP 691 tree in this process, listing N
wheels of one project; the index (embedded, gunicorn) gets the same N wheels uploaded to a local
project. After one read fills the cache (UPSTREAM_PAGE_TTL is an hour, so no revalidation is
measured), wrk reads both pages, JSON and HTML with gzip, the two taking turns run by run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
from pathlib import Path

if __name__ == "__main__" and not __package__:
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

import requests  # noqa: E402

from bench import ROOT, WORK, log  # noqa: E402
from bench.report import write_section  # noqa: E402
from bench.servers import (  # noqa: E402
    HTML_ACCEPT,
    JSON_ACCEPT,
    Servers,
    ensure_wrk,
    start_index,
)
from bench.workloads import bench_wheel, run_wrk, upload_all  # noqa: E402
from tests.proxy.upstream_server import StaticUpstream  # noqa: E402

LOCAL, PROXIED = "bench-local", "bench-proxied"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Proxied (cached upstream) vs local simple pages of the same size.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--files", type=int, default=500, help="Files in each project")
    parser.add_argument("--duration", type=float, default=10, help="Seconds per wrk run")
    parser.add_argument("--connections", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--output", type=Path, default=ROOT / "BENCHMARKS.md")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    wrk = ensure_wrk()
    upstream = StaticUpstream().start()
    wheels = [bench_wheel(LOCAL, f"1.0.{i}") for i in range(args.files)]
    for i in range(args.files):
        upstream.add_wheel(PROXIED, f"1.0.{i}")
    servers = Servers()
    try:
        target = start_index(
            servers,
            workers=args.workers,
            threads=args.threads,
            src=ROOT,
            data_dir=WORK / "proxy" / "index-data",
            extra_env={"UPSTREAM_INDEX_URL": upstream.url, "UPSTREAM_PAGE_TTL": "3600"},
        )
        log(f"upload {args.files} wheels to {LOCAL}")
        stats = upload_all(
            "local", url=target.upload_url, auth=target.auth, wheels=wheels, concurrency=4
        )
        assert not stats.failures, stats.failures[:3]
        sizes = {}
        for project in (LOCAL, PROXIED):
            for accept in (JSON_ACCEPT, HTML_ACCEPT):
                response = requests.get(
                    f"{target.base}/simple/{project}/",
                    headers={"Accept": accept, "Accept-Encoding": "gzip"},
                    timeout=60,
                )
                assert response.status_code == 200, response.text[:200]
                sizes[(project, accept)] = len(response.content)
        assert upstream.page_requests(PROXIED) == 1
        results: dict[tuple[str, str], list] = {}
        for _ in range(args.repeat):
            for accept in (JSON_ACCEPT, HTML_ACCEPT):
                for project in (LOCAL, PROXIED):
                    result = run_wrk(
                        wrk,
                        f"{target.base}/simple/{project}/",
                        connections=args.connections,
                        seconds=args.duration,
                        headers={"Accept": accept, "Accept-Encoding": "gzip"},
                    )
                    assert result.errors == 0, result.raw
                    results.setdefault((project, accept), []).append(result)
                    log(f"{project} {accept}: {result.rps:.0f} req/s, p99 {result.p99_ms:.1f} ms")
        assert upstream.page_requests(PROXIED) == 1, "the cached page was revalidated"
    finally:
        servers.stop_all()
        upstream.stop()
    section = report(args, results, sizes)
    print(section)
    write_section(args.output, "proxy", section)
    return 0


def report(args, results, sizes) -> str:
    rows = []
    for accept, kind in ((JSON_ACCEPT, "JSON"), (HTML_ACCEPT, "HTML")):
        local_rps = statistics.median(r.rps for r in results[(LOCAL, accept)])
        for project, label in ((LOCAL, "local project"), (PROXIED, "proxied, cached")):
            runs = results[(project, accept)]
            rps = statistics.median(r.rps for r in runs)
            p99 = statistics.median(r.p99_ms for r in runs)
            rows.append(
                f"| {args.files}-file {kind} | {label} | {sizes[(project, accept)]:,} | "
                f"{rps:,.0f} | {p99:.1f} | {rps / local_rps:.2f} |"
            )
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return "\n".join(
        [
            "## Proxied pages (upstream pull-through cache)",
            "",
            f"Generated by `python -m bench.proxy --files {args.files}` on {when} "
            f"(load average {os.getloadavg()[0]:.1f} at the end): one server of "
            f"this index ({args.workers} workers x {args.threads} threads, embedded), a local "
            f"project and an upstream-only project of {args.files} wheels each, the latter "
            "read once to fill the cache (UPSTREAM_PAGE_TTL an hour, so no revalidation here). "
            f"wrk, {args.connections} connections, {args.duration:g} s a run, gzip accepted; "
            f"medians of {args.repeat} runs taking turns. Other work on this shared machine "
            "disturbs single runs.",
            "",
            "| Page | Project | Page bytes (before gzip) | Requests/s | p99 ms | vs local |",
            "|---|---|---|---|---|---|",
            *rows,
        ]
    )


if __name__ == "__main__":
    raise SystemExit(main())
