"""Where a new release goes in its project's PEP 440 order (packages/releases.create_release)."""

from __future__ import annotations

import random

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from packaging.version import Version

import packages.releases
from packages.models import Release
from packages.releases import create_release
from tests.factories import make_project, make_release, make_user

pytestmark = pytest.mark.django_db


def add(project, version: str, user) -> Release:
    with transaction.atomic():
        return create_release(project=project, metadata={"version": version}, user=user)


def ordered_versions(project) -> list[str]:
    return list(project.releases.order_by("sort_order").values_list("version", flat=True))


def test_releases_in_any_upload_order_end_in_pep440_order(monkeypatch):
    def full_resort(project):
        raise AssertionError("a clean order is never re-sorted in full")

    monkeypatch.setattr(packages.releases, "_reorder_releases", full_resort)
    user = make_user()
    project = make_project("demo", owner=user)
    versions = [f"{major}.{minor}" for major in range(1, 6) for minor in range(8)]
    versions += ["2.0rc1", "0.1.dev3", "3.3.post1", "5.7b2"]
    random.Random(12).shuffle(versions)
    for version in versions:
        add(project, version, user)
    assert ordered_versions(project) == sorted(versions, key=Version)
    orders = sorted(project.releases.values_list("sort_order", flat=True))
    assert orders == list(range(len(versions)))


def test_backport_into_a_large_project_moves_the_later_releases_in_one_update():
    user = make_user()
    project = make_project("demo", owner=user)
    Release.objects.bulk_create(
        Release(
            project=project,
            version=f"2.{i}",
            canonical_version=f"2.{i}",
            sort_order=i,
        )
        for i in range(1000)
    )
    with CaptureQueriesContext(connection) as queries:
        release = add(project, "1.5", user)
    assert release.sort_order == 0
    updates = [q for q in queries.captured_queries if q["sql"].startswith("UPDATE")]
    # The releases after it move up together, then the project's serial (the journal).
    assert len(updates) == 2, [q["sql"][:80] for q in updates]
    versions = ordered_versions(project)
    assert versions[:3] == ["1.5", "2.0", "2.1"] and versions[-1] == "2.999"
    middle = add(project, "2.500.1", user)
    assert ordered_versions(project)[502] == "2.500.1"
    assert middle.sort_order == 502


def test_an_unclean_stored_order_is_repaired_by_a_full_resort():
    """Rows made outside create_release (imports, fixtures) may share a sort_order."""
    user = make_user()
    project = make_project("demo", owner=user)
    for version in ["3.0", "1.0", "2.0"]:
        make_release(project, version, sort_order=0)
    add(project, "1.5", user)
    assert ordered_versions(project) == ["1.0", "1.5", "2.0", "3.0"]
    assert sorted(project.releases.values_list("sort_order", flat=True)) == [0, 1, 2, 3]
