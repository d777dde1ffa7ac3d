"""Syncing an upstream page into packages' tables: bounded work for big projects, files the
index cannot verify left out, and the upstream's later changes (removals, yanks) applied."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from packages.models import File, Release
from proxy import mirror
from tests.proxy.upstream_server import UpstreamFile

pytestmark = pytest.mark.django_db


def test_first_fetch_of_a_big_project_takes_few_queries(upstream):
    for minor in range(150):
        upstream.add_wheel("big", f"1.{minor}")
    with CaptureQueriesContext(connection) as queries:
        project = mirror.resolve("big").project
    assert File.objects.filter(release__project=project).count() == 150
    assert len(queries) < 40, len(queries)
    versions = list(
        Release.objects.filter(project=project).order_by("sort_order").values_list("version")
    )
    assert versions[:3] == [("1.0",), ("1.1",), ("1.2",)] and versions[-1] == ("1.149",)


def test_unverifiable_and_foreign_files_are_left_out(upstream):
    good = upstream.add_wheel("mixed", "1.0")
    upstream.add_file("mixed", UpstreamFile("other_project-1.0-py3-none-any.whl", b"x", None, None))
    upstream.add_file("mixed", UpstreamFile("mixed-1.0.exe", b"x", None, None))
    upstream.add_file("mixed", UpstreamFile("mixed-2.0.tar.gz", b"sdist", None, None))
    upstream.add_file("mixed", UpstreamFile("mixed-2.0.zip", b"legacy sdist", None, None))
    mirror.resolve("mixed")
    assert sorted(File.objects.values_list("filename", flat=True)) == [
        good.filename,
        "mixed-2.0.tar.gz",
    ]


def test_upstream_removals_and_yanks_are_applied(settings, upstream):
    upstream.add_wheel("moving", "1.0")
    upstream.add_wheel("moving", "2.0")
    mirror.resolve("moving")
    settings.UPSTREAM_PAGE_TTL = 0
    upstream.projects["moving"][0].yanked = "security hole"
    del upstream.projects["moving"][1]
    mirror.resolve("moving")
    assert list(Release.objects.values_list("version", "yanked", "yanked_reason")) == [
        ("1.0", True, "security hole")
    ]
