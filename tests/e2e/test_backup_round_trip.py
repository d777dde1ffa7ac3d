"""A move and back: SQLite + local files -> PostgreSQL + S3 -> SQLite + local files, one
`manage.py export_index` and one `manage.py import_index --verify` each way, every step a
subprocess with its own environment. Every row (each table's JSON lines) and every byte (each
object) must come out as it went in.

S3 is a real `moto_server` spoken to over HTTP (tests/e2e/test_s3.py starts it; boto3 is
never patched). PostgreSQL is DATABASE_URL's server, or one on loopback: the test makes a
database of its own there and drops it; with no PostgreSQL reachable it skips, saying so.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from tests.e2e.helpers import REPO, clean_env, run
from tests.e2e.servers import S3_CREDENTIALS as CREDENTIALS
from tests.e2e.servers import fresh_database

pytestmark = pytest.mark.e2e

LOOPBACK_POSTGRES = "postgres://postgres@127.0.0.1:5432/postgres"
# Settings of whoever runs the tests that must not reach the three configurations.
_NOT_INHERITED = ("DATABASE_URL", "REDIS_URL", "CACHE_KEY_PREFIX", "DATA_DIR", "SITE_URL")


def postgres_server() -> str | None:
    """DATABASE_URL's server, else one on loopback; None if neither answers."""
    import psycopg2

    url = os.environ.get("DATABASE_URL") or LOOPBACK_POSTGRES
    try:
        psycopg2.connect(url, connect_timeout=3).close()
    except psycopg2.OperationalError:
        return None
    return url


def settings_env(data_dir: Path, **settings: str) -> dict[str, str]:
    env = clean_env()
    for name in [*_NOT_INHERITED, *(k for k in env if k.startswith("AWS_"))]:
        env.pop(name, None)
    env.update(
        DATA_DIR=str(data_dir),
        SECRET_KEY="round-trip-secret-key",
        SITE_URL="http://127.0.0.1:9",
        **settings,
    )
    return env


def manage(env: dict[str, str], *args: str):
    return run([sys.executable, "manage.py", *args], env=env, cwd=REPO, timeout=300)


def migrated(env: dict[str, str]) -> dict[str, str]:
    manage(env, "migrate", "--noinput", "--verbosity", "0")
    return env


def export_of(directory: Path) -> tuple[dict[str, bytes], dict]:
    """Every file of an export by path, and its manifest."""
    files = {
        str(path.relative_to(directory)): path.read_bytes()
        for path in sorted(directory.rglob("*"))
        if path.is_file() and path.name != "manifest.json"
    }
    return files, json.loads((directory / "manifest.json").read_text())


def local_objects(data_dir: Path) -> dict[str, bytes]:
    root = data_dir / "files"
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


@pytest.fixture
def postgres() -> Iterator[str]:
    server = postgres_server()
    if server is None:
        pytest.skip(
            f"no PostgreSQL reachable (DATABASE_URL or {LOOPBACK_POSTGRES}): the round trip "
            "through PostgreSQL + S3 needs one"
        )
    with fresh_database(server) as url:
        yield url


@pytest.fixture
def bucket(moto_endpoint) -> tuple[str, dict[str, str], object]:
    endpoint, _log = moto_endpoint
    name = f"round-trip-{secrets.token_hex(4)}"
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=CREDENTIALS["AWS_S3_REGION_NAME"],
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )
    client.create_bucket(Bucket=name)
    settings = {**CREDENTIALS, "AWS_STORAGE_BUCKET_NAME": name, "AWS_S3_ENDPOINT_URL": endpoint}
    return name, settings, client


def test_sqlite_files_to_postgres_s3_and_back_keeps_every_row_and_byte(tmp_path, postgres, bucket):
    bucket_name, s3_settings, client = bucket
    # 1. The embedded default, with one of everything (tests/backups/seed.py).
    source = migrated(settings_env(tmp_path / "source"))
    seeded = manage(
        source,
        "shell",
        "-c",
        "import json; from tests.backups.seed import seed_index; print(json.dumps(seed_index()))",
    )
    tokens = json.loads(seeded.stdout.strip().splitlines()[-1])
    first = tmp_path / "export-sqlite"
    result = manage(source, "export_index", str(first))
    assert "files: 5 files, 9 objects" in result.stderr  # a deleted project's kept
    rows, manifest = export_of(first)
    assert manifest["source"] == {"database": "sqlite", "storage": "FileSystemStorage"}

    # 2. Into PostgreSQL + S3, verified, and out again.
    server = migrated(settings_env(tmp_path / "server", DATABASE_URL=postgres, **s3_settings))
    result = manage(server, "import_index", str(first), "--verify")
    assert "verified" in result.stdout, result.stdout
    listing = client.list_objects_v2(Bucket=bucket_name).get("Contents", [])
    in_bucket = {
        item["Key"]: client.get_object(Bucket=bucket_name, Key=item["Key"])["Body"].read()
        for item in listing
    }
    assert {f"files/{key}": body for key, body in in_bucket.items()} == {
        path: body for path, body in rows.items() if path.startswith("files/")
    }
    assert not (tmp_path / "server" / "files").exists()  # nothing went to local disk
    second = tmp_path / "export-postgres"
    manage(server, "export_index", str(second))
    rows_second, manifest_second = export_of(second)
    assert manifest_second["source"] == {"database": "postgresql", "storage": "S3Storage"}

    # 3. Back into a new embedded index.
    target = migrated(settings_env(tmp_path / "target"))
    manage(target, "import_index", str(second), "--verify")
    third = tmp_path / "export-back"
    manage(target, "export_index", str(third))
    rows_third, manifest_third = export_of(third)

    # Every table's JSON lines and every object, byte for byte, at each step.
    assert rows_second == rows
    assert rows_third == rows
    assert manifest_second["tables"] == manifest["tables"] == manifest_third["tables"]
    assert (
        manifest_third["objects"]
        == manifest["objects"]
        == {
            "count": 9,
            "bytes": sum(len(body) for path, body in rows.items() if path.startswith("files/")),
        }
    )
    assert local_objects(tmp_path / "target") == {
        path.removeprefix("files/"): body
        for path, body in rows.items()
        if path.startswith("files/")
    }
    # The moved index works: its journal serials, and the tokens by the target's own code.
    check = manage(
        target,
        "shell",
        "-c",
        "from accounts.tokens import find_api_token; "
        "from packages.models import JournalEntry; "
        "print(JournalEntry.objects.order_by('-pk').values_list('pk', flat=True)[0]); "
        f"print(find_api_token({tokens['bob']!r}).user.username); "
        f"print(*find_api_token({tokens['bob']!r}).projects.values_list('name', flat=True))",
    )
    last_serial = json.loads(rows["journal.jsonl"].splitlines()[-1])["id"]
    assert check.stdout.split()[-3:] == [str(last_serial), "bob", "demo-one"]
