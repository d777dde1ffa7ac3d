"""The change journal: every write to a project adds a row whose id is the new serial."""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction

from accounts.actors import actor_name
from packages.models import JournalEntry, Project
from packages.publishing import project_changed
from packages.search_documents import refresh_search_documents

# Any constant works; it only has to be the same for every writer.
_JOURNAL_LOCK_KEY = 0x7079_7069


def record_change(
    *,
    project: Project,
    action: str,
    version: str = "",
    user: AbstractBaseUser | None = None,
    size_delta: int = 0,
    changes_search: bool = True,
) -> JournalEntry:
    """Append a journal row and make it the project's last serial.

    `size_delta` is added to the project's `total_size` in the same UPDATE (one statement less
    on the upload path). `changes_search=False` says the change leaves what
    search indexes (names, the latest release's text, the release count) as it was, as a new
    file does, so the project's search document is not rewritten.

    Inside a `changes_written_together` block the row is written when the block ends (the
    entry has no id until then); otherwise now.
    """
    assert transaction.get_connection().in_atomic_block, "journal rows belong to a transaction"
    change = _Change(
        project=project,
        # Kept now: a project deleted later in the transaction has no pk when rows are written.
        project_id=project.pk,
        entry=JournalEntry(
            name=project.name,
            version=version,
            action=action,
            submitted_by=user if user is not None and user.is_authenticated else None,
            submitted_by_name=actor_name(user),
        ),
        size_delta=size_delta,
        changes_search=changes_search,
    )
    pending = getattr(_pending, "changes", None)
    if pending is not None:
        pending.append(change)
    else:
        _write([change])
    return change.entry


@dataclass
class _Change:
    project: Project
    project_id: int
    entry: JournalEntry
    size_delta: int
    changes_search: bool


_pending = threading.local()


@contextmanager
def changes_written_together() -> Iterator[None]:
    """The journal rows recorded inside this block (within one transaction) are written when
    it ends: one INSERT for them all and one UPDATE per project, in place of an INSERT and an
    UPDATE each. An upload of a new version records two ("new release", its file). A block
    left by an exception writes nothing: its transaction is being rolled back."""
    if getattr(_pending, "changes", None) is not None:
        yield  # The enclosing block writes them.
        return
    _pending.changes = []
    try:
        yield
        changes = _pending.changes
    finally:
        _pending.changes = None
    _write(changes)


def _write(changes: list[_Change]) -> None:
    """On PostgreSQL, sequence values are handed out before commit, so two writers could commit
    serials out of order and a mirror polling `since serial N` would skip one. A transaction
    advisory lock makes journal inserts commit in id order. SQLite already serializes writers.
    """
    if not changes:
        return
    assert transaction.get_connection().in_atomic_block, "journal rows belong to a transaction"
    by_project: dict[int, list[_Change]] = {}
    for change in changes:
        by_project.setdefault(change.project_id, []).append(change)
    # Before the lock, which every writer of every project waits on: the search documents
    # depend on the project's rows, not on the journal.
    refresh_search_documents(
        project_ids=[pk for pk, group in by_project.items() if any(c.changes_search for c in group)]
    )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_JOURNAL_LOCK_KEY])
    if len(changes) == 1:
        changes[0].entry.save(force_insert=True)
    else:
        JournalEntry.objects.bulk_create([change.entry for change in changes])
    for project_changes in by_project.values():
        _update_project(project_changes)


def _update_project(changes: list[_Change]) -> None:
    """One UPDATE for the project's new last serial and total size. Its SQL is written out:
    compiling the queryset update with an F() expression was 6% of an upload's CPU."""
    serial = max(change.entry.pk for change in changes)
    size_delta = sum(change.size_delta for change in changes)
    with connection.cursor() as cursor:
        cursor.execute(
            _update_project_sql(connection.vendor), [serial, size_delta, changes[0].project_id]
        )
    for change in changes:
        change.project.last_serial = serial
    project_changed(normalized_name=changes[-1].project.normalized_name)


@functools.cache
def _update_project_sql(vendor: str) -> str:
    """Per database vendor, whose quoting the statement uses."""
    quote, fields = connection.ops.quote_name, Project._meta
    table = quote(fields.db_table)
    serial = quote(fields.get_field("last_serial").column)
    total = quote(fields.get_field("total_size").column)
    key = quote(fields.pk.column)
    return f"UPDATE {table} SET {serial} = %s, {total} = {total} + %s WHERE {key} = %s"


def last_serial() -> int:
    return JournalEntry.objects.last_serial()
