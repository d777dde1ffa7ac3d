"""`python -m bench.root`: what the `/simple/` root costs with many projects, old way and new.

    DATABASE_URL=postgres://.../bench_db SITE_URL=http://testserver SECRET_KEY=x \\
        python -m bench.root setup --projects 200000     # migrate, bulk-insert projects
    ... python -m bench.root measure                     # time and peak RSS of each case

Each case runs in its own Python process, so its peak RSS (ru_maxrss) is its own; the table
shows the process's RSS before the case (Django loaded, connected) and the peak during it.

- `old-*`: what the view did before packages/root.py: the whole list, `render_index`, gzip,
  both bodies stored in the page cache (`responses.rendered_page`, a cold miss).
- `new-rebuild`: every segment rendered from nothing (first read after a deploy).
- `new-*`: a read through the view with the segments current, the body consumed chunk by
  chunk as a WSGI server would; `new-after-change` journals one change first.
- `static-root`: `static_pages.publish_root` after one change (segments current before).

Use a database of its own: `setup` deletes every project in it.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import string
import subprocess
import sys
import time

CASES = (
    "old-gzip",
    "old-plain",
    "new-rebuild",
    "new-gzip",
    "new-plain",
    "new-json-gzip",
    "new-after-change",
    "new-304",
    "static-root",
)


def _django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pypi_site.settings")
    import django

    django.setup()


def setup(projects: int) -> None:
    _django()
    from django.core.management import call_command
    from django.db import connection, transaction

    from packages.journal import record_change
    from packages.models import Project, RootSegment, RootSync
    from packages.names import normalize_name, ultranormalize_name

    call_command("migrate", verbosity=0)
    Project.all_objects.all().delete()
    RootSegment.objects.all().delete()
    RootSync.objects.all().delete()
    rng = random.Random(7)
    # Skewed first letters, as real names are ("py..." is common).
    starts = ["py"] * 6 + list(string.ascii_lowercase) + ["django-", "flask-", "ckan", "0"]
    names: set[str] = set()
    while len(names) < projects:
        tail = "".join(rng.choices(string.ascii_lowercase + "-_.", k=rng.randint(2, 14)))
        name = (rng.choice(starts) + tail).strip("-_.")
        if name and name[-1].isalnum() and normalize_name(name) not in names:
            names.add(normalize_name(name))
    batch = []
    for index, normalized in enumerate(sorted(names)):
        display = normalized.replace("-", "_") if index % 5 == 0 else normalized
        batch.append(
            Project(
                name=display,
                normalized_name=normalized,
                ultranormalized_name=ultranormalize_name(normalized),
                last_serial=rng.randint(1, 10_000_000),
                is_private=index % 997 == 0,
            )
        )
        if len(batch) == 5000:
            Project.objects.bulk_create(batch)
            batch.clear()
            print(f"{index + 1} projects", file=sys.stderr)
    Project.objects.bulk_create(batch)
    with transaction.atomic():
        record_change(project=Project.objects.order_by("pk").first(), action="bench")
    if connection.vendor == "postgresql":
        # Fresh statistics, as autovacuum would give a real index in time: without them the
        # planner reads a segment's few rows through the whole partial unique index.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE packages_project")
    print(f"{len(names)} projects in the database", file=sys.stderr)


def _rss_kb() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def prepare(case: str) -> None:
    """In a process of its own, so the case's peak RSS is only its own: make the segments
    current, and for some cases publish once and journal a change."""
    _django()
    from django.db import transaction
    from django.test import Client

    from packages import static_pages
    from packages.journal import record_change
    from packages.models import Project

    if case.startswith("new-") and case != "new-rebuild" or case == "static-root":
        _drain(Client().get("/simple/"))
    if case == "static-root":
        static_pages.publish_root()
    if case in ("new-after-change", "static-root"):
        with transaction.atomic():
            record_change(project=Project.objects.order_by("-pk").first(), action="bench")


def run_case(case: str) -> dict:
    """One case in this process: elapsed ms, RSS before and peak, bytes sent."""
    _django()
    from django.core.cache import cache
    from django.test import Client

    from packages import responses, simple, static_pages
    from packages.models import JournalEntry, Project

    client = Client()
    serial = JournalEntry.objects.last_serial()
    cache.clear()
    responses.local_pages.clear()
    etag = client.get("/simple/")["ETag"] if case == "new-304" else None
    client.get("/_health/")  # the first request imports the URL map; not the root's cost
    before = _rss_kb()
    start = time.perf_counter()
    sent = 0
    if case.startswith("old-"):

        def render() -> tuple[bytes, str]:
            rows = list(
                Project.objects.visible()
                .filter(is_private=False)
                .order_by("normalized_name")
                .values_list("name", "normalized_name", "last_serial")
            )
            return simple.render_index(rows, serial=serial, fmt=simple.HTML), simple.HTML

        page = responses.rendered_page(
            f"bench-root:{time.time()}", render, gzip_ok=case == "old-gzip"
        )
        sent = len(page.body)
    elif case == "new-rebuild":
        from packages import root

        root.rebuild_segments()
        sent = _drain(client.get("/simple/", HTTP_ACCEPT_ENCODING="gzip"))
    elif case == "new-304":
        response = client.get("/simple/", HTTP_IF_NONE_MATCH=etag)
        assert response.status_code == 304
    elif case == "static-root":
        static_pages.publish_root()
    else:
        headers = {"HTTP_ACCEPT_ENCODING": "" if case == "new-plain" else "gzip"}
        if case == "new-json-gzip":
            headers["HTTP_ACCEPT"] = simple.V1_JSON
        sent = _drain(client.get("/simple/", **headers))
    elapsed = (time.perf_counter() - start) * 1000
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "case": case,
        "ms": round(elapsed),
        "rss_before_mb": before // 1024,
        "peak_mb": peak // 1024,
        "bytes": sent,
    }


def _drain(response) -> int:
    total = 0
    for chunk in response.streaming_content if response.streaming else [response.content]:
        total += len(chunk)
    return total


def measure(repeat: int) -> None:
    print("| case | ms (median) | RSS before (MB) | peak RSS (MB) | bytes sent |")
    print("|---|---|---|---|---|")
    for case in CASES:
        results = []
        for _ in range(repeat):
            subprocess.run([sys.executable, "-m", "bench.root", "prepare", case], check=True)
            out = subprocess.run(
                [sys.executable, "-m", "bench.root", "case", case],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            results.append(json.loads(out.strip().splitlines()[-1]))
        results.sort(key=lambda r: r["ms"])
        mid = results[len(results) // 2]
        peak = max(r["peak_mb"] for r in results)
        print(f"| {case} | {mid['ms']} | {mid['rss_before_mb']} | {peak} | {mid['bytes']:,} |")


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.root", description=__doc__.split("\n")[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("setup").add_argument("--projects", type=int, default=200_000)
    sub.add_parser("measure").add_argument("--repeat", type=int, default=3)
    sub.add_parser("case").add_argument("case", choices=CASES)
    sub.add_parser("prepare").add_argument("case", choices=CASES)
    args = parser.parse_args()
    if args.command == "setup":
        setup(args.projects)
    elif args.command == "measure":
        measure(args.repeat)
    elif args.command == "prepare":
        prepare(args.case)
    else:
        print(json.dumps(run_case(args.case)))


if __name__ == "__main__":
    main()
