"""The benchmark (bench/) shares its wheels and upload form with the tests (tests/dists.py): its
command line must still start from the repository root, and what it uploads must be a file this
index accepts, or every upload row of BENCHMARKS.md would measure refusals."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from bench.workloads import SUMMARY, bench_wheel
from packages.models import File
from tests.dists import CONTENT_TYPE, upload_form
from tests.factories import basic_auth, make_token, make_user

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("command", [["bench/run.py"], ["-m", "bench"]])
def test_bench_command_line_starts_from_the_repository_root(command):
    result = subprocess.run(
        [sys.executable, *command, "--help"], cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "--quick" in result.stdout
    assert "--from-results" in result.stdout


@pytest.mark.django_db
def test_bench_upload_is_accepted_by_the_index(client):
    wheel = bench_wheel("bench-big", "1.0.7")
    form = upload_form(
        name=wheel.name, version=wheel.version, content=wheel.content, summary=SUMMARY
    )
    form["content"] = SimpleUploadedFile(wheel.filename, wheel.content, CONTENT_TYPE)
    token = make_token(make_user("bench"))

    response = client.post("/legacy/", form, HTTP_AUTHORIZATION=basic_auth(token))

    assert response.status_code == 200, response.content
    file = File.objects.get()
    assert (file.filename, file.size) == ("bench_big-1.0.7-py3-none-any.whl", len(wheel.content))
    assert file.release.summary == SUMMARY


def test_scale_generator_has_help_and_a_dry_run():
    result = subprocess.run(
        [sys.executable, "-m", "bench.scale", "generate", "--dry-run", "--fraction", "0.01"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    # 1% of the public index's shape, plus the fixed projects that `measure` asks for by name.
    assert "7,000 projects" in result.stdout


@pytest.mark.skipif(
    not os.environ.get("DATABASE_URL"), reason="the scale data set is built in PostgreSQL"
)
def test_scale_generator_builds_rows_the_index_serves(tmp_path):
    """The generator writes every model column from the model itself, so it must keep working
    as models gain fields; a tiny copy is built in its own database and read back."""
    import psycopg2

    url = os.environ["DATABASE_URL"].rsplit("/", 1)[0] + "/pypi_scale_test"
    result = subprocess.run(
        [sys.executable, "-m", "bench.scale", "--database-url", url, "generate", "--fraction", "0"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    with psycopg2.connect(url) as conn, conn.cursor() as cursor:
        cursor.execute(
            "SELECT p.normalized_name, count(f.id), max(p.last_serial) FROM packages_project p"
            " JOIN packages_release r ON r.project_id = p.id"
            " JOIN packages_file f ON f.release_id = r.id GROUP BY p.normalized_name"
        )
        files = {name: (count, serial) for name, count, serial in cursor.fetchall()}
        cursor.execute("SELECT max(id) FROM packages_journalentry")
        last_serial = cursor.fetchone()[0]
    assert files["scale-5k"][0] == 5_000
    assert files["scale-37k"][0] == 37_000
    assert files["scale-1000-releases"][0] == 1_000
    # Each project's serial is its last journal row; the last project's is the index's.
    assert max(serial for _, serial in files.values()) == last_serial


def test_proxy_bench_command_line():
    result = subprocess.run(
        [sys.executable, "-m", "bench.proxy", "--help"], cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "--files" in result.stdout


def test_static_pages_bench_command_line_and_table():
    import argparse

    from bench.static import TARGETS, report
    from bench.workloads import WrkResult

    result = subprocess.run(
        [sys.executable, "-m", "bench.static", "--help"], cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "--connections" in result.stdout
    args = argparse.Namespace(
        files=10, repeat=2, duration=1.0, connections=[8], workers=4, threads=4
    )
    rates = {"plain files": [900, 1100], "static pages": [400, 600], "the app": [40, 60]}
    results = {
        ("big HTML", target, 8): [WrkResult(rps, 1.0, 2.0, 100, 0, "") for rps in rates[target]]
        for target in TARGETS
    }
    table = report(results, {"big HTML": 1234}, args)
    assert "| big HTML (1,234) | 8 | 1,000 | 500 | 50 | 0.50x | 2.0 | 2.0 | 2.0 |" in table
