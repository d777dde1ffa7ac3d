"""Static simple pages through nginx, side by side with nginx serving plain files of the same
bytes (and the app itself, for scale).

`python -m bench.static` starts this index (as bench/run.py does) with STATIC_SIMPLE_PAGES=1,
uploads a 1-file project and an N-file one, then starts one nginx (deploy/nginx/, configured
as tests/e2e/test_static_pages.py runs it) with two servers:

* the index's server: `GET /simple/<name>/` negotiated by Accept from the stored page sets,
  with the app's headers (ETag, Vary, X-PyPI-Last-Serial, the CDN headers), and
* a plain server: the very files of those page sets copied to a folder and served with
  `gzip_static`, no negotiation and no extra headers: what nginx costs for the same bytes.

wrk runs each page on the three (plain files, static pages, the app) taking turns run by run.
It prints a markdown table of medians and, unless --no-write, puts it in BENCHMARKS.md in its
own marked section, which bench/report.py keeps when it rewrites the file.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import statistics
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import LOGS, ROOT, RUN, log
from bench.report import write_section
from bench.servers import Servers, ensure_wrk, start_index
from bench.workloads import bench_wheel, run_wrk, upload_all
from tests.e2e.nginx import nginx_binary, nginx_process

SECTION = "## Static simple pages through nginx"
ONE, BIG = "bench-one", "bench-big"
HTML = {"Accept": "text/html", "Accept-Encoding": "gzip"}
JSON = {"Accept": "application/vnd.pypi.simple.v1+json", "Accept-Encoding": "gzip"}
TARGETS = ("plain files", "static pages", "the app")


def plain_server(folder: Path, port: int) -> str:
    """The comparison: nginx handing out files as they are, gzip_static as the index's server
    has, and nothing else."""
    return f"""
    server {{
        listen 127.0.0.1:{port};
        server_name plain;
        location / {{
            root {folder};
            gzip_static on;
            etag off;
            types {{
                text/html html;
                application/vnd.pypi.simple.v1+json v1_json;
            }}
        }}
    }}
"""


def copy_page_sets(storage: Path, folder: Path, names: list[str]) -> None:
    """Each project's current page set (the folder its link points to) as plain files."""
    for name in names:
        current = (storage / "simple" / name).resolve()
        shutil.copytree(current, folder / name)


def measure(args: argparse.Namespace) -> tuple[dict, dict]:
    binary = nginx_binary()
    if binary is None:
        raise SystemExit("nginx is not installed: apt-get install -y nginx")
    wrk = ensure_wrk()
    if RUN.exists():
        shutil.rmtree(RUN)
    LOGS.mkdir(parents=True)
    servers = Servers()
    results: dict[tuple[str, str, int], list] = {}
    sizes: dict[str, int] = {}
    try:
        data = RUN / "index-data"
        index = start_index(
            servers,
            workers=args.workers,
            threads=args.threads,
            src=ROOT,
            data_dir=data,
            extra_env={"STATIC_SIMPLE_PAGES": "1"},
        )
        log(f"upload 1 wheel into {ONE} and {args.files} into {BIG}")
        for project, wheels in (
            (ONE, [bench_wheel(ONE, "1.0")]),
            (BIG, [bench_wheel(BIG, f"1.0.{i}") for i in range(args.files)]),
        ):
            stats = upload_all(
                project, url=index.upload_url, auth=index.auth, wheels=wheels, concurrency=4
            )
            if stats.failures:
                raise SystemExit(f"upload failed: {stats.failures[0]}")
        storage = data / "files"
        plain = RUN / "plain"
        copy_page_sets(storage, plain, [ONE, BIG])
        from bench.servers import free_port

        plain_port = free_port()
        with nginx_process(
            RUN / "nginx",
            storage=storage,
            upstream=index.base.removeprefix("http://"),
            extra=plain_server(plain, plain_port),
        ) as nginx:
            plain_url = f"http://127.0.0.1:{plain_port}"
            pages = {
                f"{ONE} HTML": (f"/simple/{ONE}/", f"/{ONE}/index.html", HTML),
                f"{BIG} HTML": (f"/simple/{BIG}/", f"/{BIG}/index.html", HTML),
                f"{BIG} JSON": (f"/simple/{BIG}/", f"/{BIG}/index.v1_json", JSON),
            }
            cells = {}
            for page, (path, plain_path, headers) in pages.items():
                urls = {
                    "plain files": plain_url + plain_path,
                    "static pages": nginx.url + path,
                    "the app": index.base + path,
                }
                bodies = {}
                for target, url in urls.items():
                    response = nginx.http.get(url, headers=headers, timeout=30)
                    if response.status_code != 200:
                        raise SystemExit(f"{target} {url}: {response.status_code}")
                    bodies[target] = response.content
                if len(set(bodies.values())) != 1:
                    raise SystemExit(f"{page}: the three servers sent different bytes")
                sizes[page] = len(bodies["plain files"])
                for target, url in urls.items():
                    cells[(page, target)] = (url, headers)
            for url, headers in cells.values():  # warm-up
                run_wrk(wrk, url, connections=max(args.connections), seconds=1, headers=headers)
            for round_ in range(args.repeat):
                for conns in args.connections:
                    for (page, target), (url, headers) in cells.items():
                        result = run_wrk(
                            wrk, url, connections=conns, seconds=args.duration, headers=headers
                        )
                        if result.errors:
                            raise SystemExit(f"{page} {target}: {result.errors} errors")
                        results.setdefault((page, target, conns), []).append(result)
                        log(
                            f"  [{round_ + 1}/{args.repeat}] {page:14} {target:12} c={conns:<3}"
                            f" {result.rps:9.1f} req/s  p99 {result.p99_ms:6.1f} ms"
                        )
            errors = nginx.errors()
            if "[error]" in errors or "[crit]" in errors:
                raise SystemExit(f"nginx logged errors:\n{errors}")
    finally:
        servers.stop_all()
    return results, sizes


def report(results: dict, sizes: dict, args: argparse.Namespace) -> str:
    command = (
        f"python -m bench.static --files {args.files} --repeat {args.repeat} "
        f"--duration {args.duration} --connections {','.join(map(str, args.connections))}"
    )
    lines = [
        SECTION,
        "",
        f"Generated by `{command}` on {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC. This index "
        f"({args.workers} gunicorn workers x {args.threads} threads, embedded, "
        "STATIC_SIMPLE_PAGES=1) behind one nginx worker configured by deploy/nginx/; beside "
        "it, in the same nginx, a server that hands out copies of the same page files with "
        "`gzip_static` and nothing else. wrk with gzip accepted, medians of "
        f"{args.repeat} runs taken in turns, {os.cpu_count()} CPUs shared by wrk, nginx and "
        "the app. The three send the same bytes (checked, decompressed); the static pages "
        "add the Accept negotiation, the app's headers and the page set's link to resolve.",
        "",
        "| Page (bytes before gzip) | Conn. | plain files req/s | static pages req/s "
        "| the app req/s | static / plain | plain p99 ms | static p99 ms | app p99 ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for page, size in sizes.items():
        for conns in args.connections:
            rps = {t: statistics.median(r.rps for r in results[(page, t, conns)]) for t in TARGETS}
            p99 = {
                t: statistics.median(r.p99_ms for r in results[(page, t, conns)]) for t in TARGETS
            }
            lines.append(
                f"| {page} ({size:,}) | {conns} | {rps['plain files']:,.0f} | "
                f"{rps['static pages']:,.0f} | {rps['the app']:,.0f} | "
                f"{rps['static pages'] / rps['plain files']:.2f}x | "
                f"{p99['plain files']:.1f} | {p99['static pages']:.1f} | {p99['the app']:.1f} |"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--files", type=int, default=500, help="wheels in the big project")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--connections", default="1,32", help="comma-separated wrk connections")
    parser.add_argument("--duration", type=float, default=5, help="seconds per wrk run")
    parser.add_argument("--repeat", type=int, default=3, help="wrk runs per cell")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    args.connections = [int(c) for c in args.connections.split(",")]
    if args.files < 1 or args.repeat < 1 or not args.connections:
        parser.error("--files, --repeat and --connections must be positive")
    results, sizes = measure(args)
    section = report(results, sizes, args)
    print(section)
    if not args.no_write:
        write_section(ROOT / "BENCHMARKS.md", "static", section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
