"""The report of a run: medians and ratios, the markdown table printed at the end, and
BENCHMARKS.md around it (command, date, machine, set-up, method, targets)."""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import re
import statistics
from pathlib import Path

from bench import log
from bench.servers import HTML_ACCEPT, JSON_ACCEPT
from bench.workloads import BIG, ONE, WrkResult, big_pin


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


def summarize_reads(raw: dict[str, list[WrkResult]]) -> dict[str, dict]:
    """Per cell: the medians of its wrk runs, the busiest other work seen, errors, every run."""
    return {
        key: {
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
        for key, runs in raw.items()
    }


UPLOAD_METRICS = ("files_per_s", "seconds", "first_rate", "last_rate", "p50_ms", "p99_ms", "cpu_ms")


def summarize_uploads(rounds: list[dict[str, dict]]) -> dict[str, dict]:
    """Per server: the median of each upload metric over the rounds, the failures and the
    busiest other work seen, every round, and (for this index) the median over rounds of its
    files/s and CPU per upload divided by pypiserver's in the same round."""
    summary = {}
    for label in rounds[0]:
        runs = [r[label] for r in rounds]
        row = {key: median([run[key] for run in runs]) for key in UPLOAD_METRICS}
        row["failures"] = sum(run["failures"] for run in runs)
        row["other_share"] = max(run["other_share"] for run in runs)
        row["rounds"] = runs
        if label != "pypiserver" and "pypiserver" in rounds[0]:
            peers = [r["pypiserver"] for r in rounds]
            row["files_per_s_ratio"] = median(
                [a["files_per_s"] / b["files_per_s"] for a, b in zip(runs, peers, strict=True)]
            )
            row["cpu_ms_ratio"] = median(
                [a["cpu_ms"] / b["cpu_ms"] for a, b in zip(runs, peers, strict=True)]
            )
        summary[label] = row
    return summary


def summarize_pip(times: dict[str, dict[str, list[float]]]) -> dict[str, dict]:
    return {label: {k: median(v) for k, v in d.items()} for label, d in times.items()}


def _upload_rows(row: dict, ps: dict, *, where: str, files: int, args) -> list[str]:
    """The upload rows of one configuration of this index against pypiserver."""
    files_ratio = row.get("files_per_s_ratio")
    files_ratio = (
        f"{files_ratio:.2f}x" if files_ratio else ratio(row["files_per_s"], ps["files_per_s"])
    )
    cpu_ratio = row.get("cpu_ms_ratio")
    first, last = (
        ratio(row["first_rate"], ps["first_rate"]),
        ratio(row["last_rate"], ps["last_rate"]),
    )
    return [
        f"| Upload {files:,} wheels into one project{where}, {args.upload_concurrency} at a "
        f"time: files/s (higher is better) | {row['files_per_s']:.1f} | {ps['files_per_s']:.1f} | "
        f"{files_ratio} |",
        f"| ... files/s over the first / last 10% of those uploads | "
        f"{row['first_rate']:.1f} / {row['last_rate']:.1f} | "
        f"{ps['first_rate']:.1f} / {ps['last_rate']:.1f} | {first} / {last} |",
        f"| ... upload latency p50 / p99, ms (lower is better) | "
        f"{row['p50_ms']:.0f} / {row['p99_ms']:.0f} | {ps['p50_ms']:.0f} / {ps['p99_ms']:.0f} | "
        f"{ratio(row['p50_ms'], ps['p50_ms'])} / {ratio(row['p99_ms'], ps['p99_ms'])} |",
        f"| ... server CPU time per upload, ms (lower is better) | {row['cpu_ms']:.1f} | "
        f"{ps['cpu_ms']:.1f} | "
        f"{f'{cpu_ratio:.2f}x' if cpu_ratio else ratio(row['cpu_ms'], ps['cpu_ms'])} |",
    ]


def build_report(
    args: argparse.Namespace,
    *,
    facts: dict,
    versions: dict,
    results: dict,
    page_sizes: dict,
    command: str,
) -> tuple[str, str]:
    """The results table, and the whole of BENCHMARKS.md around it."""
    n = args.files
    upload = results["upload"]
    reads = results["reads"]
    pip = results["pip"]
    lines = []
    lines.append("| Measurement | this index | pypiserver | ratio (index / pypiserver) |")
    lines.append("|---|---:|---:|---:|")
    ps = upload["pypiserver"]
    rounds = len(ps.get("rounds", [])) or 1
    for label, where in (("this index", ""), ("this index (PostgreSQL)", " (PostgreSQL + Redis)")):
        if label not in upload:
            continue
        lines.extend(_upload_rows(upload[label], ps, where=where, files=n, args=args))
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
        a, b = pip.get("this index", {}).get(key), pip.get("pypiserver", {}).get(key)
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
    if not read_rows:
        checks.append("- Reads: not measured in this run (--only-uploads).")
    else:
        checks.append(
            f"- Reads at least 3x pypiserver on every row: "
            f"{'met' if worst[0] >= 3 else 'NOT met'} by requests/s (lowest ratio "
            f"{worst[0]:.2f}x, {worst[1]})."
        )
        cpu_worst = min((ps_r["cpu_ms"] / ix_r["cpu_ms"], label) for label, ix_r, ps_r in read_rows)
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
    for label, where in (("this index", "embedded"), ("this index (PostgreSQL)", "PostgreSQL")):
        if label not in upload:
            continue
        row = upload[label]
        up = row.get("files_per_s_ratio") or (row["files_per_s"] / ps["files_per_s"])
        cpu = row.get("cpu_ms_ratio") or (row["cpu_ms"] / ps["cpu_ms"])
        checks.append(
            f"- Uploads at least 1.5x pypiserver's files/s ({where}): "
            f"{'met' if up >= 1.5 else 'NOT met'} ({up:.2f}x files/s, median of the {rounds} "
            f"round(s)' ratios; server CPU per upload {cpu:.2f}x pypiserver's)."
        )
    errors = [k for k, v in reads.items() if v.get("errors")]
    if errors:
        checks.append(f"- wrk saw non-2xx/3xx or socket errors in: {', '.join(errors)}.")
    failures = {label: row["failures"] for label, row in upload.items() if row["failures"]}
    if failures:
        checks.append(
            "- Upload failures: " + ", ".join(f"{k} {v}" for k, v in failures.items()) + "."
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
    up_other = ", ".join(f"{k} {v['other_share']:.0%} (busiest round)" for k, v in upload.items())
    elapsed = ", ".join(f"{k} {v['seconds']:.1f} s" for k, v in upload.items())
    per_round = "; ".join(
        f"{k} " + ", ".join(f"{r['files_per_s']:.1f}" for r in v.get("rounds", [v]))
        for k, v in upload.items()
    )
    pg_setup = ""
    if "this index (PostgreSQL)" in upload:
        pg_setup = (
            "\n  **PostgreSQL rows**: the same gunicorn settings with `DATABASE_URL` (a database "
            "of the benchmark's own, created afresh each round) and `REDIS_URL` (cache and job "
            "queue: each upload queues one job, its project's pages, and no rqworker runs "
            "during the measurement, so that rendering is not in these rows), files on local "
            "disk under "
            "`bench/.work/run/index-pg-data`. Measured for uploads only. PostgreSQL's and "
            "Redis's own processes are outside the index's process group: their CPU is not in "
            "its CPU row but in the other work."
        )

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
  Embedded mode (the default, as `make run` serves it): a fresh SQLite database (WAL), files under `bench/.work/run/index-data` and the cache there too (files shared by the workers), jobs run in-process.{pg_setup}
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
  Each round starts every server afresh with empty data, and the servers upload one after the other; the upload rows are the medians over {rounds} round(s), and their ratios the median of each round's own ratio.
  Elapsed (median): {elapsed}.
  Per round, files/s: {per_round}.
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

Targets: at least 3x pypiserver on every read row, flat from 1 to {n:,} files, and uploads at least 1.5x pypiserver's files/s.

{chr(10).join(checks)}
"""  # noqa: E501 - markdown prose, one sentence a line
    return table, md


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


_SECTION = re.compile(r"<!-- bench\.(\w+): start -->.*?<!-- bench\.\1: end -->", re.S)


def section_markers(name: str) -> tuple[str, str]:
    return f"<!-- bench.{name}: start -->", f"<!-- bench.{name}: end -->"


def write_section(path: Path, name: str, body: str) -> None:
    """Replace benchmark `name`'s own section of BENCHMARKS.md, or append it; a full
    `make bench` keeps every such section (write_report)."""
    start, end = section_markers(name)
    section = f"{start}\n{body.strip()}\n{end}"
    text = path.read_text() if path.exists() else ""
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _m: section, text)
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text)
    log(f"wrote the {name} section of {path}")


def write_report(saved: dict, *, output: Path | None) -> int:
    """Print the table of a saved run (results.json's shape) and write the report to `output`."""
    args = argparse.Namespace(**{k: saved["args"][k] for k in REPORT_ARGS})
    table, md = build_report(
        args,
        facts=saved["facts"],
        versions=saved["versions"],
        results=saved["results"],
        page_sizes=saved["page_sizes"],
        command=saved["command"],
    )
    print()
    print(table, flush=True)
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        # Sections that other benchmarks write (`python -m bench.proxy`, `bench.private`) come
        # from their own runs: a full run keeps them.
        old = output.read_text() if output.exists() else ""
        kept = [m.group(0) for m in _SECTION.finditer(old)]
        output.write_text("\n\n".join([md.rstrip("\n"), *kept]) + "\n")
        log(f"wrote {output}")
    return 0
