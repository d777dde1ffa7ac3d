"""Where a new release goes in its project's PEP 440 order (packages/releases.create_release)."""

from __future__ import annotations

import random

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from packaging.version import Version

import packages.releases
from packages.models import Release
from packages.releases import SORT_GAP, create_release
from tests.factories import make_project, make_release, make_user

pytestmark = pytest.mark.django_db


def add(project, version: str, user) -> Release:
    with transaction.atomic():
        return create_release(project=project, metadata={"version": version}, user=user)


def ordered_versions(project) -> list[str]:
    return list(project.releases.order_by("sort_order").values_list("version", flat=True))


def add_in_order(project, versions: list[str], *, spacing: int = SORT_GAP) -> None:
    """Releases numbered `spacing` apart in the given order, made in one statement."""
    Release.objects.bulk_create(
        Release(project=project, version=v, canonical_version=v, sort_order=i * spacing)
        for i, v in enumerate(versions)
    )


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
    orders = list(project.releases.order_by("sort_order").values_list("sort_order", flat=True))
    assert len(set(orders)) == len(versions)


def test_backport_into_a_large_project_moves_no_other_release():
    """Rewriting a release row also rewrites its full-text index entry on PostgreSQL, so a
    backport must not shift the releases after it: it takes a free number between them."""
    user = make_user()
    project = make_project("demo", owner=user)
    add_in_order(project, [f"2.{i}" for i in range(1000)])
    with CaptureQueriesContext(connection) as queries:
        release = add(project, "1.5", user)
    assert release.sort_order < 0
    updates = [q for q in queries.captured_queries if q["sql"].startswith("UPDATE")]
    # Only the project's serial (the journal) changes.
    assert len(updates) == 1 and "packages_project" in updates[0]["sql"], updates
    versions = ordered_versions(project)
    assert versions[:3] == ["1.5", "2.0", "2.1"] and versions[-1] == "2.999"
    middle = add(project, "2.500.1", user)
    assert ordered_versions(project)[502] == "2.500.1"
    assert 500 * SORT_GAP < middle.sort_order < 501 * SORT_GAP


def test_a_recent_backport_reads_only_the_newest_releases():
    """Consecutive versions uploaded at once may commit out of order; placing one of them must
    not read all of a large project's releases. An older backport still reads them all."""
    user = make_user()
    project = make_project("demo", owner=user)
    add_in_order(project, [f"1.0.{i}" for i in range(0, 1000, 2)], spacing=2 * SORT_GAP)

    def releases_read(queries) -> int:
        selects = [q["sql"] for q in queries.captured_queries if "packages_release" in q["sql"]]
        return sum("LIMIT" not in sql for sql in selects if sql.startswith("SELECT"))

    with CaptureQueriesContext(connection) as recent:
        late = add(project, "1.0.991", user)
    assert releases_read(recent) == 0
    assert ordered_versions(project)[-6:] == [f"1.0.{i}" for i in (990, 991, 992, 994, 996, 998)]
    assert 990 * SORT_GAP < late.sort_order < 992 * SORT_GAP
    with CaptureQueriesContext(connection) as old:
        add(project, "1.0.3", user)
    assert releases_read(old) == 1
    assert ordered_versions(project)[:4] == ["1.0.0", "1.0.2", "1.0.3", "1.0.4"]


def test_a_dense_order_is_renumbered_with_gaps_once():
    """Releases numbered 0, 1, 2... (an earlier version of this index, imports) leave no room:
    the first backport renumbers the project SORT_GAP apart, the next ones move nothing."""
    user = make_user()
    project = make_project("demo", owner=user)
    for i in range(10):
        make_release(project, f"2.{i}", sort_order=i)
    add(project, "2.4.1", user)
    orders = list(project.releases.order_by("sort_order").values_list("sort_order", flat=True))
    assert orders == [i * SORT_GAP for i in range(11)]
    assert ordered_versions(project)[5] == "2.4.1"
    with CaptureQueriesContext(connection) as queries:
        add(project, "2.4.2", user)
    assert sum(q["sql"].startswith("UPDATE") for q in queries.captured_queries) == 1
    assert ordered_versions(project)[6] == "2.4.2"


def test_backports_into_one_gap_until_it_is_full_then_renumber():
    user = make_user()
    project = make_project("demo", owner=user)
    add(project, "1.0", user)
    add(project, "2.0", user)
    # Each backport halves the room below 2.0; after ten there is none, and one renumbering
    # makes room again, all the while in PEP 440 order.
    versions = ["1.0", "2.0"]
    for n in range(1, 16):
        version = f"1.{'9' * n}"
        add(project, version, user)
        versions.append(version)
        assert ordered_versions(project) == sorted(versions, key=Version)


def test_an_unclean_stored_order_is_repaired_by_a_full_resort():
    """Rows made outside create_release (imports, fixtures) may share a sort_order."""
    user = make_user()
    project = make_project("demo", owner=user)
    for version in ["3.0", "1.0", "2.0"]:
        make_release(project, version, sort_order=0)
    add(project, "1.5", user)
    assert ordered_versions(project) == ["1.0", "1.5", "2.0", "3.0"]
    orders = sorted(project.releases.values_list("sort_order", flat=True))
    assert orders == [0, SORT_GAP, 2 * SORT_GAP, 3 * SORT_GAP]
