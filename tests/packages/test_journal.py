"""packages/journal.py: every change is a journal row whose id becomes the project's last
serial; changes recorded together are written together, with the same result."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from packages.journal import changes_written_together, record_change
from packages.models import JournalEntry, Project
from tests.factories import make_project, make_user

pytestmark = pytest.mark.django_db


def test_changes_written_together_are_the_rows_and_serial_one_by_one_would_give():
    user = make_user("alice")
    demo, other = make_project("demo"), make_project("other")
    before = JournalEntry.objects.count()
    with transaction.atomic(), changes_written_together():
        first = record_change(project=demo, action="new release", version="1.0", user=user)
        for size in (10, 20):  # Two updates of one column: both count.
            record_change(
                project=demo,
                action=f"add py3 file {size}",
                version="1.0",
                user=user,
                size_delta=size,
                changes_search=False,
            )
        record_change(project=other, action="yank release", version="2.0")
        assert first.pk is None  # Nothing written yet.
        assert JournalEntry.objects.count() == before
    rows = list(JournalEntry.objects.order_by("pk")[before:])
    assert [r.action for r in rows] == [
        "new release",
        "add py3 file 10",
        "add py3 file 20",
        "yank release",
    ]
    assert [r.name for r in rows] == ["demo", "demo", "demo", "other"]
    assert rows[0].submitted_by == user and rows[0].submitted_by_name == "alice"
    assert first.pk == rows[0].pk
    demo_row, other_row = Project.objects.get(pk=demo.pk), Project.objects.get(pk=other.pk)
    assert demo_row.last_serial == demo.last_serial == rows[2].pk
    assert other_row.last_serial == other.last_serial == rows[3].pk
    assert demo_row.total_size == 30


def test_changes_written_together_take_fewer_statements():
    demo = make_project("demo")
    counts = []
    for together in (False, True):
        with CaptureQueriesContext(connection) as queries, transaction.atomic():
            if together:
                with changes_written_together():
                    record_change(project=demo, action="new release", version="1.0")
                    record_change(project=demo, action="add file", version="1.0")
            else:
                record_change(project=demo, action="new release", version="1.0")
                record_change(project=demo, action="add file", version="1.0")
        counts.append(len(queries))
    assert counts[1] <= counts[0] - 2


def test_a_block_left_by_an_exception_writes_nothing():
    demo = make_project("demo")
    before = JournalEntry.objects.count()
    serial = Project.objects.get(pk=demo.pk).last_serial
    with pytest.raises(RuntimeError), transaction.atomic(), changes_written_together():
        record_change(project=demo, action="new release", version="1.0")
        raise RuntimeError
    assert JournalEntry.objects.count() == before
    assert Project.objects.get(pk=demo.pk).last_serial == serial


def test_a_project_deleted_later_in_the_block_keeps_its_journal_row():
    """As when an upload makes way for a local project by deleting the upstream copy."""
    doomed = make_project("doomed")
    before = JournalEntry.objects.count()
    with transaction.atomic(), changes_written_together():
        record_change(project=doomed, action="remove project")
        Project.objects.filter(pk=doomed.pk).delete()
        doomed.pk = None
    assert JournalEntry.objects.count() == before + 1
    assert JournalEntry.objects.latest("pk").name == "doomed"
