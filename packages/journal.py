"""The change journal: every write to a project adds a row whose id is the new serial."""

from __future__ import annotations

from typing import Any

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
    project_updates: dict[str, Any] | None = None,
    changes_search: bool = True,
) -> JournalEntry:
    """Append a journal row and make it the project's last serial.

    `project_updates` are other columns of the project row to set in the same UPDATE (one
    statement less on the upload path). `changes_search=False` says the change leaves what
    search indexes (names, the latest release's text, the release count) as it was, as a new
    file does, so the project's search document is not rewritten.

    On PostgreSQL, sequence values are handed out before commit, so two writers could commit
    serials out of order and a mirror polling `since serial N` would skip one. A transaction
    advisory lock makes journal inserts commit in id order. SQLite already serializes writers.
    """
    assert transaction.get_connection().in_atomic_block, "journal rows belong to a transaction"
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_JOURNAL_LOCK_KEY])
    entry = JournalEntry.objects.create(
        name=project.name,
        version=version,
        action=action,
        submitted_by=user if user is not None and user.is_authenticated else None,
        submitted_by_name=actor_name(user),
    )
    Project.objects.filter(pk=project.pk).update(last_serial=entry.pk, **(project_updates or {}))
    project.last_serial = entry.pk
    if changes_search:
        refresh_search_documents(project_ids=[project.pk])
    project_changed(normalized_name=project.normalized_name)
    return entry


def last_serial() -> int:
    return JournalEntry.objects.last_serial()
