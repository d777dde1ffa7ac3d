"""The benchmark (bench/) shares its wheels and upload form with the tests (tests/dists.py): its
command line must still start from the repository root, and what it uploads must be a file this
index accepts, or every upload row of BENCHMARKS.md would measure refusals."""

from __future__ import annotations

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


def test_proxy_bench_command_line():
    result = subprocess.run(
        [sys.executable, "-m", "bench.proxy", "--help"], cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "--files" in result.stdout
