"""How long rendering takes per file, on a project of 5,000 files (500 releases of 10, some
yanked, some with provenance). Stored documents keep rendering off the request path, but it
still runs after every change, inline in the embedded default. Prints the figures (pytest -s):
CPU time of this process, best of five, so other work on the machine moves them less (on
SQLite the query's time is in it too). The bound is loose because the machine may be shared.
DUMP_RENDER=<dir> writes the bodies, to check that a faster renderer changed no byte."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from packages import api, documents, simple
from packages.models import File
from packages.responses import local_pages
from tests.factories import make_files, make_project, make_release

pytestmark = pytest.mark.django_db

FILES = 5000
# The aim is 20 µs, on the machine BENCHMARKS.md was measured on. A timed test cannot hold a
# shared machine to that: a CI machine half as fast measured 40.7 µs for the JSON API and
# failed a bound of twice the aim. Five times the aim still fails a renderer that went back
# to per-file queries or template rendering (hundreds of µs per file), which is what this
# test is for; the figure itself is printed and tracked by the scale job rows of bench.scale.
LIMIT_US = 100


@pytest.fixture
def big_project():
    project = make_project("big-project")
    for i in range(FILES // 10):
        release = make_release(
            project,
            f"1.{i}",
            sort_order=i,
            requires_python=">=3.9" if i % 2 else "",
            yanked=i % 50 == 0,
            yanked_reason="broken" if i % 100 == 0 else "",
        )
        make_files(release, 10)
    File.objects.update(upload_time="2026-05-06T07:08:09.123456Z")
    first = File.objects.order_by("id").values("id")
    File.objects.filter(id__in=first[:100]).update(has_provenance=True)
    File.objects.filter(id__in=first[100:110]).update(comment_text='a "quoted" <é> \\ comment')
    File.objects.filter(id__in=first[110:120]).update(upload_time="2020-01-02T03:04:05Z")
    return project


def best_of(runs: int, render) -> float:
    timings = []
    for _ in range(runs):
        start = time.process_time()
        render()
        timings.append(time.process_time() - start)
    return min(timings)


@pytest.mark.parametrize("page", ["simple-html", "simple-json", "json-api"])
def test_rendering_costs_little_per_file(big_project, page):
    def render() -> bytes:
        if page == "json-api":
            return api.render_project_json(
                big_project,
                version=None,
                base_url=settings.SITE_URL,
                files_url=settings.FILES_BASE_URL,
            )
        fmt = simple.V1_JSON if page == "simple-json" else simple.HTML
        files = simple.project_files(big_project, files_url=settings.FILES_BASE_URL)
        return simple.render_detail(big_project, files, fmt=fmt)

    body = render()
    assert body.count(b"big_project-1.") >= FILES
    if os.environ.get("DUMP_RENDER"):
        # To compare the bytes before and after a change to rendering.
        Path(os.environ["DUMP_RENDER"], page).write_bytes(body)
    per_file_us = best_of(5, render) / FILES * 1e6
    print(f"\n{page}: {per_file_us:.1f} µs CPU per file ({FILES} files, query included)")
    assert per_file_us < LIMIT_US


@pytest.mark.parametrize(
    ("path", "accept"),
    [
        ("/simple/big-project/", "text/html"),
        ("/simple/big-project/", simple.V1_JSON),
        ("/pypi/big-project/json", "application/json"),
    ],
)
@pytest.mark.parametrize("encoding", ["gzip", "identity"])
def test_a_cold_read_of_a_stored_page_costs_two_queries(
    client, big_project, path, accept, encoding
):
    """With every cache empty, a 5,000-file project's page is the project lookup and one
    indexed read of its stored copy: no rendering. Prints the milliseconds (wall, best of 5)."""
    documents.render_project(normalized_name=big_project.normalized_name)
    timings = []
    for _ in range(5):
        cache.clear()
        local_pages.clear()
        with CaptureQueriesContext(connection) as queries:
            start = time.perf_counter()
            response = client.get(path, HTTP_ACCEPT=accept, HTTP_ACCEPT_ENCODING=encoding)
            timings.append(time.perf_counter() - start)
        assert response.status_code == 200
        assert len(queries) == 2
    size = len(response.getvalue())  # A large page is a stream (its stored file).
    print(f"\n{path} {accept} {encoding}: {min(timings) * 1e3:.1f} ms cold, {size} bytes")
