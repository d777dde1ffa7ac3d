"""`python -m bench.scale`: the public index's shape in PostgreSQL, and what pages cost on it.

`generate` builds a synthetic copy of the public index's shape (by default 700,000 projects,
about 4 million releases and 7.9 million files, with owners, descriptions, a journal row per
release and file, and each project's search document) in its own PostgreSQL database. Python
only decides each project's shape; PostgreSQL makes the rows (INSERT ... SELECT over
generate_series, two connections at once) into tables without their indexes, which are built
afterwards. Its columns come from the models themselves (every column a model has gets the
model's default unless the generator sets it), so a new column never breaks the generator. File
bytes are not written: the pages, the JSON API and search read rows only.

A few projects have fixed, known sizes so that `measure` can ask for them by name:

  scale-one             1 release, 1 file
  scale-5k              250 releases x 20 files = 5,000 files
  scale-10k             400 releases x 25 files = 10,000 files
  scale-37k             1,000 releases x 37 files = 37,000 files
  scale-1000-releases   1,000 releases x 1 file, owned by the user `scale-owner`

`measure` starts the index (gunicorn, the production settings: that database, Redis for the
cache) and times the reads the issue lists, cold (the cache emptied before every request) and
cached, then an upload of an older version into the 1,000-release project, website search for
common and rare words, and the admin's journal search; it prints a markdown table of medians
and p99 for BENCHMARKS.md. `--fraction 0.01` makes a 1% copy for a quick look.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import random
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

if __name__ == "__main__" and not __package__:
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

from bench import ROOT, RUN, log  # noqa: E402
from bench.report import write_section  # noqa: E402

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/pypi_scale"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/10"

# The public index's shape, as issue 12 item 7 gives it.
FULL_PROJECTS = 700_000
FULL_RELEASES = 4_000_000
FULL_FILES = 7_900_000

# name -> (releases, files per release); always generated, whatever the fraction.
FIXED_PROJECTS = {
    "scale-one": (1, 1),
    "scale-5k": (250, 20),
    "scale-10k": (400, 25),
    "scale-37k": (1_000, 37),
    "scale-1000-releases": (1_000, 1),
}
OWNER = "scale-owner"

# Words whose share of summaries and descriptions roughly follows the public index: common ones
# match hundreds of thousands of projects, rare ones a few hundred.
COMMON_WORDS = {"python": 0.30, "data": 0.12, "django": 0.05, "api": 0.10, "client": 0.06}
RARE_WORDS = {"smtp": 0.0008, "kerberos": 0.0003}
_FILLER_TEXT = (
    "library tool simple fast async parser wrapper utility framework plugin extension module "
    "command line interface server web http json yaml config test testing cloud aws azure "
    "google machine learning model image text file stream queue cache database sql orm "
    "scientific numeric array plot chart report logging monitor security crypto auth token"
)
FILLER = _FILLER_TEXT.split()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.scale",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("SCALE_DATABASE_URL", DEFAULT_DATABASE_URL),
        help="PostgreSQL database for the copy (generate drops and recreates it)",
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("SCALE_REDIS_URL", DEFAULT_REDIS_URL),
        help="Redis database for the index's cache while measuring (emptied for cold reads)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("generate", help="build the data set", description="Build the data set.")
    gen.add_argument("--fraction", type=float, default=1.0, help="share of the full size")
    gen.add_argument("--seed", type=int, default=12, help="random seed (same seed, same rows)")
    gen.add_argument("--dry-run", action="store_true", help="print the sizes and stop")
    mea = sub.add_parser("measure", help="time the pages", description="Time the pages.")
    mea.add_argument("--requests", type=int, default=100, help="requests per row")
    mea.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    mea.add_argument("--no-write", action="store_true", help="print only, leave BENCHMARKS.md")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.command == "generate":
        return generate(args)
    return measure(args)


# --- Django, pointed at the scale database ------------------------------------------------------


def index_env(args: argparse.Namespace, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_", "AWS_"))}
    env.update(
        DATABASE_URL=args.database_url,
        REDIS_URL=args.redis_url,
        SECRET_KEY=env.get("SECRET_KEY", "bench-scale-key"),
        SITE_URL=env.get("SITE_URL", "http://127.0.0.1"),
        DATA_DIR=str(RUN / "scale-data"),
    )
    env.update(extra)
    return env


def setup_django(args: argparse.Namespace) -> None:
    os.environ.update(index_env(args))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pypi_site.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def recreate_database(url: str) -> None:
    import psycopg2
    from psycopg2 import sql

    name = url.rsplit("/", 1)[1]
    server = psycopg2.connect(url.rsplit("/", 1)[0] + "/postgres")
    server.autocommit = True
    with server.cursor() as cursor:
        cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    server.close()


# --- rows through COPY ------------------------------------------------------------------------


def _copy_text(value) -> str:
    """One value in PostgreSQL's COPY text format."""
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (dict, list)):
        value = json.dumps(value)
    text = str(value)
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        text = (
            text.replace("\\", "\\\\")
            .replace("\t", "\\t")
            .replace("\n", "\\n")
            .replace("\r", "\\r")
        )
    return text


def filler(model, field, *, now: datetime):
    """A column's value where the generator gives none: its default, NULL, now or empty."""
    from django.db import models  # After django.setup().

    if field.has_default():
        return field.get_default()
    if field.null:
        return None
    if isinstance(field, models.DateTimeField):
        return now
    if isinstance(field, (models.CharField, models.TextField)):
        return ""
    raise ValueError(f"{model.__name__}.{field.name} needs a value from the generator")


class TableWriter:
    """Streams rows of one model into its table with COPY, in chunks. Columns the generator does
    not give take the model's own default (or NULL, an empty string, or now), so the rows stay
    valid whatever fields the model gains."""

    CHUNK = 50_000
    CHUNK_BYTES = 16 << 20  # descriptions make release rows large

    def __init__(self, model, given: list[str], *, parents: tuple[TableWriter, ...] = ()):

        self.model = model
        # Rows of the tables this one points at go in first, so every foreign key finds its row.
        self.parents = parents
        self.table = model._meta.db_table
        self.fields = [f for f in model._meta.concrete_fields]
        self.given = given
        now = datetime.now(UTC)
        self.columns: list[str] = []
        self.slots: list[int | str] = []  # index into a given row, or a fixed COPY text
        for field in self.fields:
            self.columns.append(field.column)
            if field.name in given or field.attname in given:
                key = field.name if field.name in given else field.attname
                self.slots.append(given.index(key))
                continue
            self.slots.append(_copy_text(filler(model, field, now=now)))
        self.buffer = io.StringIO()
        self.pending = 0
        self.written = 0

    def add(self, row: tuple) -> None:
        line = [_copy_text(row[slot]) if isinstance(slot, int) else slot for slot in self.slots]
        self.buffer.write("\t".join(line))
        self.buffer.write("\n")
        self.pending += 1
        if self.pending >= self.CHUNK or self.buffer.tell() >= self.CHUNK_BYTES:
            self.flush()

    def flush(self) -> None:
        from django.db import connection

        if not self.pending:
            return
        for parent in self.parents:
            parent.flush()
        self.buffer.seek(0)
        with connection.cursor() as cursor:
            cursor.cursor.copy_expert(
                f'COPY "{self.table}" ({", ".join(self.columns)}) FROM STDIN', self.buffer
            )
        self.written += self.pending
        self.buffer = io.StringIO()
        self.pending = 0

    def reset_sequence(self) -> None:
        from django.db import connection

        pk = self.model._meta.pk
        if not pk.auto_created and pk.get_internal_type() not in ("AutoField", "BigAutoField"):
            return
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('\"{self.table}\"', '{pk.column}'), "
                f'(SELECT COALESCE(MAX("{pk.column}"), 1) FROM "{self.table}"))'
            )


# --- the shape --------------------------------------------------------------------------------


class Text:
    """Summaries and descriptions whose words match the public index's rough frequencies."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.descriptions = [self._description(i) for i in range(400)]

    def words(self, n: int) -> list[str]:
        words = [self.rng.choice(FILLER) for _ in range(n)]
        for word, share in {**COMMON_WORDS, **RARE_WORDS}.items():
            if self.rng.random() < share:
                words.insert(self.rng.randrange(len(words) + 1), word)
        return words

    def summary(self) -> str:
        return " ".join(self.words(self.rng.randint(4, 10))).capitalize()

    def _description(self, i: int) -> tuple[str, str]:
        paragraphs = [" ".join(self.words(self.rng.randint(30, 120))) for _ in range(3 + i % 8)]
        text = f"Project {i}\n" + "=" * 20 + "\n\n" + "\n\n".join(paragraphs)
        html = "<h1>Project</h1>" + "".join(f"<p>{p}</p>" for p in paragraphs)
        return text, html


def _geometric(rng: random.Random, mean: float) -> int:
    """1, 2, 3, ... with the given mean: most projects are small, a long tail is large."""
    if mean <= 1:
        return 1
    return 1 + int(math.log(1 - rng.random()) / math.log(1 - 1 / mean))


def project_sizes(rng: random.Random, fraction: float) -> list[tuple[str, int, int]]:
    """(name, releases, files per release) for every project; the fixed ones first."""
    projects = [(name, r, f) for name, (r, f) in FIXED_PROJECTS.items()]
    count = max(0, round(FULL_PROJECTS * fraction) - len(projects))
    fixed_releases = sum(r for _, r, _ in projects)
    fixed_files = sum(r * f for _, r, f in projects)
    releases_left = max(count, round(FULL_RELEASES * fraction) - fixed_releases)
    files_left = max(releases_left, round(FULL_FILES * fraction) - fixed_files)
    mean_releases = releases_left / max(count, 1)
    mean_files = files_left / max(releases_left, 1)
    words = FILLER + list(COMMON_WORDS)
    for i in range(count):
        # Most projects have one or two releases of one or two files; a long tail has hundreds.
        releases = _geometric(rng, mean_releases)
        files = _geometric(rng, mean_files)
        name = f"{rng.choice(words)}-{rng.choice(words)}-{i}"
        projects.append((name, min(releases, 3_000), min(files, 80)))
    return projects


def generate(args: argparse.Namespace) -> int:
    rng = random.Random(args.seed)
    sizes = project_sizes(rng, args.fraction)
    releases = sum(r for _, r, _ in sizes)
    files = sum(r * f for _, r, f in sizes)
    log(f"shape: {len(sizes):,} projects, {releases:,} releases, {files:,} files")
    if args.dry_run:
        return 0
    started = time.monotonic()
    log(f"recreating {args.database_url}")
    recreate_database(args.database_url)
    setup_django(args)
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.db import connection, transaction

    from accounts.models import Account
    from packages.models import File, JournalEntry, Project, Release, Role, SearchDocument
    from packages.names import normalize_name, ultranormalize_name
    from packages.releases import SORT_GAP
    from packages.search_documents import DESCRIPTION_CHARACTERS

    log("migrate")
    call_command("migrate", "--noinput", verbosity=0)

    text = Text(rng)
    user_count = max(10, len(sizes) // 3)
    epoch = datetime(2005, 3, 1, tzinfo=UTC)
    end = datetime(2026, 11, 1, tzinfo=UTC)
    span = (end - epoch).total_seconds()
    phases: dict[str, float] = {}

    # Every index but the primary keys (full-text, trigram, ordering, and the unique ones on
    # random hashes, whose row-by-row inserts thrash the buffers) costs far more row by row
    # than built once at the end: set the definitions aside, drop them, build them after the
    # rows. Unique constraints come back as constraints; ones a foreign key needs stay.
    models = (User, Account, Project, Role, Release, File, JournalEntry, SearchDocument)
    tables = [m._meta.db_table for m in models]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT i.indexname, i.indexdef, i.tablename, con.conname FROM pg_indexes i"
            " JOIN pg_class c ON c.relname = i.indexname"
            " JOIN pg_index x ON x.indexrelid = c.oid"
            " LEFT JOIN pg_constraint con ON con.conindid = c.oid AND con.contype = 'u'"
            " WHERE i.schemaname = 'public' AND i.tablename = ANY(%s) AND NOT x.indisprimary"
            " AND NOT EXISTS (SELECT 1 FROM pg_constraint fk"
            "  WHERE fk.contype = 'f' AND fk.conindid = c.oid)",
            [tables],
        )
        secondary, constraints = [], []
        for name, definition, table, constraint in cursor.fetchall():
            if constraint:
                cursor.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT "{constraint}"')
                # One at a time after the builds: each locks its whole table.
                constraints.append(
                    f'ALTER TABLE "{table}" ADD CONSTRAINT "{constraint}"'
                    f' UNIQUE USING INDEX "{name}"'
                )
            else:
                cursor.execute(f'DROP INDEX "{name}"')
            secondary.append((name, definition))
    log(f"dropped {len(secondary)} secondary indexes until the rows are in")

    # 1. Python decides the shape (the same seed gives the same projects) and writes one row
    #    per project into a work table; every release, file and journal row is then made by
    #    PostgreSQL from it (INSERT ... SELECT over generate_series), never a row in Python.
    phase_started = time.monotonic()
    with transaction.atomic():
        users = TableWriter(User, ["id", "username", "email", "password", "is_active"])
        accounts = TableWriter(Account, ["user"])
        for uid in range(1, user_count + 1):
            username = OWNER if uid == 1 else f"user{uid}"
            users.add((uid, username, f"{username}@example.invalid", "!", True))
            accounts.add((uid,))
        users.flush()
        accounts.flush()
        users.reset_sequence()
        log(f"users: {users.written:,}")
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS bench_shape, bench_description")
            cursor.execute(
                "CREATE UNLOGGED TABLE bench_description"
                " (i integer PRIMARY KEY, body text, html text, tsv tsvector)"
            )
            cursor.execute(
                "CREATE UNLOGGED TABLE bench_shape (pid integer PRIMARY KEY, name text,"
                " normalized text, ultranormalized text, dist text, created timestamptz,"
                " step interval, releases integer, files integer, release_base bigint,"
                " file_base bigint, serial_base bigint, owner integer, summary text)"
            )
        shape = io.StringIO()
        release_base = file_base = serial_base = 0
        for pid, (name, release_count, files_per_release) in enumerate(sizes, start=1):
            normalized = normalize_name(name)
            created = epoch + timedelta(seconds=rng.random() * span * 0.9)
            step = (end - created).total_seconds() / (release_count + 1)
            owner = 1 if name == "scale-1000-releases" else 1 + pid % user_count
            row = (pid, name, normalized, ultranormalize_name(name), normalized.replace("-", "_"))
            row += (created, f"{step} seconds", release_count, files_per_release)
            row += (release_base, file_base, serial_base, owner, text.summary())
            shape.write("\t".join(_copy_text(v) for v in row) + "\n")
            release_base += release_count
            file_base += release_count * files_per_release
            serial_base += release_count * (1 + files_per_release)
        shape.seek(0)
        descriptions = io.StringIO()
        for i, (body, html) in enumerate(text.descriptions):
            descriptions.write(f"{i}\t{_copy_text(body)}\t{_copy_text(html)}\n")
        descriptions.seek(0)
        with connection.cursor() as cursor:
            cursor.cursor.copy_expert("COPY bench_shape FROM STDIN", shape)
            cursor.cursor.copy_expert(
                "COPY bench_description (i, body, html) FROM STDIN", descriptions
            )
            cursor.execute(
                "UPDATE bench_description SET tsv = setweight(to_tsvector('english'::regconfig,"
                f" left(body, {DESCRIPTION_CHARACTERS})), 'D')"
            )
            cursor.execute("ANALYZE bench_shape")
    phases["shape (Python)"] = time.monotonic() - phase_started
    log(f"shape: {len(sizes):,} projects in bench_shape, {phases['shape (Python)']:.0f}s")

    # 2. The tables, in pid ranges over LOAD_WORKERS connections.
    statements = row_statements(
        connection,
        {
            "project": Project,
            "role": Role,
            "release": Release,
            "file": File,
            "journal": JournalEntry,
            "document": SearchDocument,
        },
        sort_gap=SORT_GAP,
    )
    chunk = max(1, -(-len(sizes) // (LOAD_WORKERS * 4)))
    ranges = [(low, low + chunk) for low in range(1, len(sizes) + 1, chunk)]
    # Parents need not come first: foreign-key triggers are off while loading (see load_rows).
    for table in ("release", "file", "journal", "project", "role", "document"):
        phase_started = time.monotonic()
        sql, params = statements[table]
        rows = run_parallel(
            args.database_url, [(sql, {**params, "low": lo, "high": hi}) for lo, hi in ranges]
        )
        phases[table] = time.monotonic() - phase_started
        log(f"{table}: {rows:,} rows, {phases[table]:.0f}s")
    with connection.cursor() as cursor:
        for model in (Project, Role, Release, File, JournalEntry):
            table, pk = model._meta.db_table, model._meta.pk.column
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('\"{table}\"', '{pk}'),"
                f' (SELECT COALESCE(MAX("{pk}"), 1) FROM "{table}"))'
            )
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE bench_shape, bench_description")

    # 3. The secondary indexes, two at a time.
    phase_started = time.monotonic()
    run_parallel(
        args.database_url,
        [(definition, {}) for _name, definition in secondary],
        label=lambda i: f"index {i + 1}/{len(secondary)}: {secondary[i][0]}",
    )
    with connection.cursor() as cursor:
        for statement in constraints:
            cursor.execute(statement)
    phases["indexes"] = time.monotonic() - phase_started
    phase_started = time.monotonic()
    log("analyze")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
        cursor.execute("SELECT pg_size_pretty(pg_database_size(current_database()))")
        size = cursor.fetchone()[0]
        counts = {}
        for model in (Project, Release, File, JournalEntry):
            cursor.execute(f"SELECT count(*) FROM {model._meta.db_table}")  # noqa: S608
            counts[model.__name__] = cursor.fetchone()[0]
    phases["analyze"] = time.monotonic() - phase_started
    log(
        f"done: {counts['Project']:,} projects, {counts['Release']:,} releases, "
        f"{counts['File']:,} files, {counts['JournalEntry']:,} journal rows, {size}, "
        f"{time.monotonic() - started:.0f}s ("
        + ", ".join(f"{name} {seconds:.0f}s" for name, seconds in phases.items())
        + ")"
    )
    return 0


# Connections that load rows and build indexes at once (the machine has two cores).
LOAD_WORKERS = 2


def load_session(cursor) -> None:
    """Settings for a loading connection. `session_replication_role = replica` turns off the
    foreign-key triggers: every reference is right by construction, and checking 20 million
    rows one at a time cost more than writing them. No commit waits for the disk: a crash
    means generating again anyway. No JIT: generate_series looks like a million rows to the
    planner, which then spent seconds compiling each statement."""
    cursor.execute("SET session_replication_role = replica")
    cursor.execute("SET jit = off")
    cursor.execute("SET synchronous_commit = off")
    cursor.execute("SET maintenance_work_mem = '1GB'")
    cursor.execute("SET max_parallel_maintenance_workers = 0")


def run_parallel(database_url: str, statements: list[tuple[str, dict]], label=None) -> int:
    """Run the statements over LOAD_WORKERS connections, each in its own transaction; the rows
    they wrote, summed."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    import psycopg2

    local = threading.local()
    opened = []

    def run(i: int) -> int:
        if not hasattr(local, "conn"):
            local.conn = psycopg2.connect(database_url)
            opened.append(local.conn)
            with local.conn.cursor() as cursor:
                load_session(cursor)
            local.conn.commit()
        if label is not None:
            log(label(i))
        sql, params = statements[i]
        with local.conn.cursor() as cursor:
            cursor.execute(sql, params or None)
            rows = max(cursor.rowcount, 0)
        local.conn.commit()
        return rows

    try:
        with ThreadPoolExecutor(LOAD_WORKERS) as pool:
            return sum(pool.map(run, range(len(statements))))
    finally:
        for conn in opened:
            conn.close()


def insert_select(connection, model, given: dict[str, str], source: str) -> tuple[str, dict]:
    """INSERT INTO the model's table SELECT the `given` SQL expressions FROM `source`; every
    other column gets the model's default (or NULL, an empty string, now), as TableWriter does,
    so a new column never breaks the generator."""

    columns, values, params = [], [], {}
    now = datetime.now(UTC)
    for field in model._meta.concrete_fields:
        columns.append(field.column)
        expression = given.get(field.name, given.get(field.attname))
        if expression is not None:
            values.append(expression)
            continue
        value = filler(model, field, now=now)
        if isinstance(value, (dict, list)):
            value = json.dumps(value)
        params[f"default_{field.column}"] = value
        values.append(f"%(default_{field.column})s::{field.db_type(connection)}")
    sql = (
        f'INSERT INTO "{model._meta.db_table}" ({", ".join(columns)})\n'
        f"SELECT {', '.join(values)}\n{source}"
    )
    return sql, params


# Which of the 400 descriptions release number n (0-based, over all releases) carries.
_DESCRIPTION_OF = "mod(({n}) * 7919, 400)"
_VERSION = "CASE WHEN s.releases > 1 THEN (r / 100) || '.' || mod(r, 100) || '.0' ELSE '1.0' END"
_IN_RANGE = "s.pid >= %(low)s AND s.pid < %(high)s"


def row_statements(connection, models: dict, *, sort_gap: int) -> dict[str, tuple[str, dict]]:
    """One INSERT ... SELECT per table, over the projects with pid in [%(low)s, %(high)s)."""
    statements = {}
    statements["project"] = insert_select(
        connection,
        models["project"],
        {
            "id": "s.pid",
            "name": "s.name",
            "normalized_name": "s.normalized",
            "ultranormalized_name": "s.ultranormalized",
            "created": "s.created",
            "total_size": "coalesce(t.size, 0)",
            "last_serial": "s.serial_base + s.releases * (1 + s.files)",
        },
        # A project's files have the ids after its file_base (read through the primary key).
        "FROM bench_shape s LEFT JOIN LATERAL (SELECT sum(f.size) AS size FROM packages_file f"
        " WHERE f.id > s.file_base AND f.id <= s.file_base + s.releases * s.files"
        f") t ON true WHERE {_IN_RANGE}",
    )
    statements["role"] = insert_select(
        connection,
        models["role"],
        {"id": "s.pid", "user": "s.owner", "project": "s.pid", "role_name": "'Owner'"},
        f"FROM bench_shape s WHERE {_IN_RANGE}",
    )
    when = "s.created + s.step * (r + 1)"
    statements["release"] = insert_select(
        connection,
        models["release"],
        {
            "id": "s.release_base + r + 1",
            "project": "s.pid",
            "version": _VERSION,
            "canonical_version": _VERSION,
            "sort_order": f"r * {sort_gap}",
            "is_prerelease": "false",
            "created": when,
            "summary": "s.summary",
            "description": "d.body",
            "description_content_type": "'text/x-rst'",
            "description_html": "d.html",
            "description_rendered_at": when,
            "requires_python": "'>=3.8'",
            "author": "'Author ' || s.owner",
            "classifiers": """'["Programming Language :: Python :: 3"]'::jsonb""",
        },
        "FROM bench_shape s CROSS JOIN LATERAL generate_series(0, s.releases - 1) r"
        " JOIN bench_description d ON d.i = "
        + _DESCRIPTION_OF.format(n="s.release_base + r")
        + f" WHERE {_IN_RANGE}",
    )
    # The hashes are of the filename (no bytes are written); blake2b is not in PostgreSQL, so
    # its column holds another SHA-256 of the name, which nothing here checks.
    files = (
        "FROM bench_shape s CROSS JOIN LATERAL generate_series(0, s.releases - 1) r"
        " CROSS JOIN LATERAL generate_series(0, s.files - 1) f"
        f" CROSS JOIN LATERAL (SELECT {_VERSION} AS version) v"
        " CROSS JOIN LATERAL (SELECT CASE WHEN f = 0"
        " THEN s.dist || '-' || v.version || '.tar.gz'"
        " ELSE s.dist || '-' || v.version || '-cp3' || mod(f, 14) || '-none-plat' || f || '.whl'"
        " END AS filename) n"
        " CROSS JOIN LATERAL (SELECT"
        " encode(sha256(convert_to(n.filename, 'UTF8')), 'hex') AS sha256,"
        " encode(sha256(convert_to('blake2b ' || n.filename, 'UTF8')), 'hex') AS blake2) h"
        f" WHERE {_IN_RANGE}"
    )
    statements["file"] = insert_select(
        connection,
        models["file"],
        {
            "id": "s.file_base + r * s.files + f + 1",
            "release": "s.release_base + r + 1",
            "filename": "n.filename",
            "path": "substr(h.blake2, 1, 2) || '/' || substr(h.blake2, 3, 2) || '/'"
            " || substr(h.blake2, 5) || '/' || n.filename",
            "size": "1000 + floor(-ln(1 - random()) * 200000)::bigint",
            "md5_digest": "md5(n.filename)",
            "sha256_digest": "h.sha256",
            "blake2_256_digest": "h.blake2",
            "packagetype": "CASE WHEN f = 0 THEN 'sdist' ELSE 'bdist_wheel' END",
            "python_version": "CASE WHEN f = 0 THEN 'source' ELSE 'cp3' || mod(f, 14) END",
            "upload_time": "s.created + s.step * (r + 1)",
            "metadata_sha256": "CASE WHEN f = 0 THEN '' ELSE h.sha256 END",
        },
        files,
    )
    # A release's journal row, then one per file: serials in the order the old generator
    # (and an upload) gave them.
    statements["journal"] = insert_select(
        connection,
        models["journal"],
        {
            "id": "s.serial_base + r * (1 + s.files) + 1 + f",
            "name": "s.name",
            "version": _VERSION,
            "action": "CASE WHEN f = 0 THEN 'new release' ELSE 'add ' || CASE WHEN f = 1"
            " THEN 'source file ' || s.dist || '-' || " + _VERSION + " || '.tar.gz'"
            " ELSE 'cp3' || mod(f - 1, 14) || ' file ' || s.dist || '-' || "
            + _VERSION
            + " || '-cp3' || mod(f - 1, 14) || '-none-plat' || (f - 1) || '.whl' END END",
            "submitted_date": "s.created + s.step * (r + 1)",
            "submitted_by_name": "'user' || s.owner",
        },
        "FROM bench_shape s CROSS JOIN LATERAL generate_series(0, s.releases - 1) r"
        " CROSS JOIN LATERAL generate_series(0, s.files) f"
        f" WHERE {_IN_RANGE}",
    )
    # The search document as packages/search_documents.py writes it: the latest release is the
    # highest (no release here is yanked or a pre-release), and its description's words come
    # from bench_description, parsed once rather than once per project.
    statements["document"] = insert_select(
        connection,
        models["document"],
        {
            "project": "s.pid",
            "document": "setweight(to_tsvector('english'::regconfig, s.name), 'A')"
            " || setweight(to_tsvector('english'::regconfig, s.summary || ' '), 'B')"
            " || d.tsv",
            "popularity": "s.releases",
        },
        "FROM bench_shape s JOIN bench_description d ON d.i = "
        + _DESCRIPTION_OF.format(n="s.release_base + s.releases - 1")
        + f" WHERE {_IN_RANGE}",
    )
    return statements


# --- measuring --------------------------------------------------------------------------------


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(share * len(ordered)) - 1)]


def measure(args: argparse.Namespace) -> int:
    import http.client

    import psycopg2
    import redis

    from bench.servers import Servers, free_port, wait_ready

    cache = redis.Redis.from_url(args.redis_url)
    port = free_port()
    env = index_env(
        args,
        PORT=str(port),
        WEB_CONCURRENCY=str(args.workers),
        WEB_THREADS="4",
        ALLOWED_HOSTS="127.0.0.1",
        # The generated owner has no verified address; the upload row measures the upload.
        REQUIRE_VERIFIED_EMAIL="0",
        SITE_URL=f"http://127.0.0.1:{port}",
    )
    python = str(ROOT / ".venv" / "bin" / "python")
    subprocess.run(
        [python, "manage.py", "migrate", "--noinput", "-v", "0"], env=env, cwd=ROOT, check=True
    )
    # This process runs each change's job itself (below), so it needs the server's settings:
    # a stored page is only served under the SITE_URL it was rendered for.
    os.environ.update(env)
    setup_django(args)
    from packages.documents import render_project

    subprocess.run(
        [python, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        env=env,
        cwd=ROOT,
        check=True,
    )
    servers = Servers()
    rows: list[tuple[str, str, float, float]] = []
    try:
        proc = servers.start(
            "scale-index",
            [
                str(ROOT / ".venv" / "bin" / "gunicorn"),
                "-c",
                "pypi_site/gunicorn.py",
                "--no-control-socket",
                "pypi_site.wsgi",
            ],
            env=env,
            cwd=ROOT,
        )
        wait_ready("scale-index", f"http://127.0.0.1:{port}/_health/", proc, timeout=120)

        def timed_get(path: str, headers: dict) -> float:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
            start = time.perf_counter()
            conn.request("GET", path, headers={"Host": "127.0.0.1", **headers})
            response = conn.getresponse()
            response.read()
            elapsed = (time.perf_counter() - start) * 1000
            conn.close()
            if response.status != 200:
                raise SystemExit(f"GET {path}: {response.status}")
            return elapsed

        html = {"Accept": "text/html", "Accept-Encoding": "gzip"}
        pep691 = {"Accept": "application/vnd.pypi.simple.v1+json", "Accept-Encoding": "gzip"}
        reads = [
            ("/simple/ for a 1-file project (HTML)", "/simple/scale-one/", html),
            ("/simple/ for a 5,000-file project (HTML)", "/simple/scale-5k/", html),
            ("/simple/ for a 5,000-file project (JSON)", "/simple/scale-5k/", pep691),
            ("/simple/ for a 37,000-file project (HTML)", "/simple/scale-37k/", html),
            ("/simple/ for a 37,000-file project (JSON)", "/simple/scale-37k/", pep691),
            ("JSON API, 5,000-file project", "/pypi/scale-5k/json", {"Accept-Encoding": "gzip"}),
            ("Project page, 5,000-file project", "/project/scale-5k/", html),
            ("/simple/ root (gzip)", "/simple/", html),
            ("/simple/ root (uncompressed)", "/simple/", {"Accept": "text/html"}),
            ("Search: python", "/search/?q=python", html),
            ("Search: django", "/search/?q=django", html),
            ("Search: smtp", "/search/?q=smtp", html),
        ]
        database = psycopg2.connect(args.database_url)
        database.autocommit = True

        jobs: dict[str, list[float]] = {}

        def touch(path: str) -> None:
            """What a change does: a new journal row, the project's serial moved to it (every
            cached page of the project and the root is keyed by a serial), then the change's
            job, which renders and stores the project's pages (timed apart: it runs in the
            worker, off the request path), and an empty Redis."""
            name = path.split("/")[2] if path.count("/") > 2 else ""
            with database.cursor() as cursor:
                cursor.execute(
                    "INSERT INTO packages_journalentry (name, version, action, submitted_date,"
                    " submitted_by_name) VALUES (%s, '', 'bench touch', now(), 'bench')"
                    " RETURNING id",
                    [name or "scale-one"],
                )
                serial = cursor.fetchone()[0]
                cursor.execute(
                    "UPDATE packages_project SET last_serial = %s WHERE normalized_name = %s",
                    [serial, name or "scale-one"],
                )
            start = time.perf_counter()
            render_project(normalized_name=name or "scale-one")
            jobs.setdefault(name or "scale-one", []).append((time.perf_counter() - start) * 1000)
            cache.flushdb()

        # The first root read after a deploy builds every segment (packages/root.py): once,
        # not per change, so it is not a cold read's cost.
        log(f"root segments built in {timed_get('/simple/', html):.0f} ms (once per deploy)")
        # Each worker's first requests import and connect; a fresh server's, not a read's.
        for _ in range(4 * args.workers):
            for path in (
                "/simple/scale-one/",
                "/pypi/scale-one/json",
                "/project/scale-one/",
                "/search/?q=scale",
            ):
                timed_get(path, html)
        for label, path, headers in reads:
            n = args.requests if "root" not in label else max(5, args.requests // 10)
            # The first read of a path after the database was built finds PostgreSQL's pages
            # on disk (a search word's index entries, say): shown as its own row, so that the
            # cold rows measure an empty Redis, as after an upload, and not a cold disk.
            touch(path)
            first = timed_get(path, headers)
            rows.append((label, "first read", first, first))
            cold = []
            for _ in range(n):
                touch(path)
                cold.append(timed_get(path, headers))
            timed_get(path, headers)
            warm = [timed_get(path, headers) for _ in range(n)]
            for state, values in (("cold", cold), ("cached", warm)):
                rows.append((label, state, statistics.median(values), percentile(values, 0.99)))
                log(f"{label} {state}: p50 {rows[-1][2]:.1f} ms, p99 {rows[-1][3]:.1f} ms")
        for name, times in jobs.items():
            label = f"Job after a change: store {name}'s pages (off the request path)"
            rows.append((label, "-", statistics.median(times), percentile(times, 0.99)))
        rows += measure_upload(args, port)
        rows += measure_admin(args)
    finally:
        servers.stop_all()
    body = scale_section(args, rows)
    print(body)
    if not args.no_write:
        write_section(ROOT / "BENCHMARKS.md", "scale", body)
    return 0


def scale_section(args: argparse.Namespace, rows: list[tuple[str, str, float, float]]) -> str:
    import psycopg2

    with psycopg2.connect(args.database_url) as conn, conn.cursor() as cursor:
        counts = []
        for table in ("packages_project", "packages_release", "packages_file"):
            cursor.execute(f"SELECT count(*) FROM {table}")  # noqa: S608 - fixed names
            counts.append(cursor.fetchone()[0])
        cursor.execute("SELECT pg_size_pretty(pg_database_size(current_database()))")
        size = cursor.fetchone()[0]
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "## At the public index's scale",
        "",
        f"Generated by `python -m bench.scale measure --requests {args.requests}` on {when} "
        f"(load average {os.getloadavg()[0]:.1f} at the end), against a database made by "
        f"`python -m bench.scale generate`: {counts[0]:,} projects, {counts[1]:,} releases, "
        f"{counts[2]:,} files, {size} (the full shape is 700,000 / 4 million / 7.9 million; "
        "`--fraction` makes a smaller copy, whose per-project rows are the same because the "
        "projects measured have fixed sizes). One gunicorn with "
        f"{args.workers} workers on PostgreSQL and Redis. First read: the first request for "
        "the path after the workers started, with PostgreSQL's pages for it perhaps still on "
        "disk. Cold: a change to the project "
        "(a journal row, its serial moved, then the change's job, which stores its pages) and "
        "an empty Redis before each request, as after an upload; cached: the same request "
        "again. Admin rows are timed in-process with a staff session.",
        "",
        "| Request | Cache | p50 ms | p99 ms |",
        "|---|---|---:|---:|",
        *(f"| {label} | {state} | {p50:.1f} | {p99:.1f} |" for label, state, p50, p99 in rows),
    ]
    return "\n".join(lines)


def measure_upload(args: argparse.Namespace, port: int) -> list[tuple[str, str, float, float]]:
    """Uploads of older versions (0.0.N) into the 1,000-release project, one at a time."""
    import requests

    from bench.workloads import SUMMARY, bench_wheel
    from tests.dists import upload_files, upload_form

    python = str(ROOT / ".venv" / "bin" / "python")
    token = subprocess.run(
        [python, "manage.py", "create_api_token", OWNER],
        env=index_env(args),
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()[-1]
    stamp = int(time.time())
    times = []
    for i in range(max(5, args.requests // 5)):
        wheel = bench_wheel("scale-1000-releases", f"0.0.{stamp}{i:03d}")
        start = time.perf_counter()
        response = requests.post(
            f"http://127.0.0.1:{port}/legacy/",
            data=upload_form(
                name=wheel.name, version=wheel.version, content=wheel.content, summary=SUMMARY
            ),
            files=upload_files(wheel.filename, wheel.content),
            auth=("__token__", token),
            timeout=300,
        )
        times.append((time.perf_counter() - start) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"upload: {response.status_code} {response.text[:300]}")
    label = "Upload of an older version into a 1,000-release project"
    log(f"{label}: p50 {statistics.median(times):.1f} ms")
    return [(label, "-", statistics.median(times), percentile(times, 0.99))]


def measure_admin(args: argparse.Namespace) -> list[tuple[str, str, float, float]]:
    """Admin lists and searches, in-process with a staff session (no login form to drive)."""
    setup_django(args)
    from django.contrib.auth.models import User
    from django.test import Client

    staff, _ = User.objects.get_or_create(
        username="scale-staff", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(staff)
    pages = [
        ("Admin: journal searched by project name", "/admin/packages/journalentry/?q=scale-5k"),
        ("Admin: journal list", "/admin/packages/journalentry/"),
        ("Admin: projects searched", "/admin/packages/project/?q=django"),
        ("Admin: files list", "/admin/packages/file/"),
        ("Admin: releases searched", "/admin/packages/release/?q=scale-5k"),
    ]
    rows = []
    for label, path in pages:
        times = []
        for _ in range(max(3, args.requests // 20)):
            start = time.perf_counter()
            response = client.get(path)
            times.append((time.perf_counter() - start) * 1000)
            if response.status_code != 200:
                raise SystemExit(f"GET {path}: {response.status_code}")
        rows.append((label, "-", statistics.median(times), percentile(times, 0.99)))
        log(f"{label}: p50 {rows[-1][2]:.1f} ms")
    return rows


if __name__ == "__main__":
    sys.exit(main())
