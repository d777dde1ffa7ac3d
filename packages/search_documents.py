"""Keeping each project's search document (packages.models.SearchDocument) current.

The document is the project's name (weight A), its latest release's summary and keywords (B)
and description (D), "latest" as the project page picks it (packages/search.py
`latest_releases`: not yanked, then final, then highest). `refresh_search_documents` runs in
`journal.record_change`, the one call every change to a project goes through (new release, yank,
deletion, visibility, quarantine), so the document follows the rows in the same transaction.
Documents are written in SQL on PostgreSQL only; SQLite searches its own way and keeps no
document.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from django.db import connection

# A description past this many characters adds little to a search and a lot to the document.
DESCRIPTION_CHARACTERS = 100_000

# Fills or replaces the documents of the projects that {where} selects (`p` is the project).
_UPSERT = f"""
INSERT INTO packages_searchdocument (project_id, document, popularity)
SELECT p.id,
    setweight(to_tsvector('english'::regconfig, p.name), 'A')
    || setweight(to_tsvector('english'::regconfig,
        coalesce(r.summary, '') || ' ' || coalesce(r.keywords, '')), 'B')
    || setweight(to_tsvector('english'::regconfig,
        left(coalesce(r.description, ''), {DESCRIPTION_CHARACTERS})), 'D'),
    (SELECT count(*) FROM packages_release c
     WHERE c.project_id = p.id AND c.deleted_at IS NULL)
FROM packages_project p
LEFT JOIN LATERAL (
    SELECT l.summary, l.keywords, l.description FROM packages_release l
    WHERE l.project_id = p.id AND l.deleted_at IS NULL
    ORDER BY l.yanked, l.is_prerelease, l.sort_order DESC
    LIMIT 1
) r ON true
WHERE {{where}}
ON CONFLICT (project_id) DO UPDATE
    SET document = EXCLUDED.document, popularity = EXCLUDED.popularity
"""


def uses_documents() -> bool:
    return connection.vendor == "postgresql"


def refresh_search_documents(*, project_ids: Iterable[int]) -> None:
    """Rewrite the documents of these projects from their current rows."""
    ids = sorted(set(project_ids))
    if not ids or not uses_documents():
        return
    with connection.cursor() as cursor:
        cursor.execute(_UPSERT.format(where="p.id = ANY(%s)"), [ids])


def rebuild_search_documents(
    *, batch_size: int = 10_000, progress: Callable[[int, int], None] | None = None
) -> int:
    """Rewrite every project's document, `batch_size` project ids at a time (each batch its own
    statement, so a long rebuild holds no lock for long), and drop documents of projects that
    are gone. Returns how many projects were written."""
    if not uses_documents():
        return 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(min(id), 0), coalesce(max(id), -1) FROM packages_project")
        low, high = cursor.fetchone()
        cursor.execute(
            "DELETE FROM packages_searchdocument d WHERE NOT EXISTS "
            "(SELECT 1 FROM packages_project p WHERE p.id = d.project_id)"
        )
    written = 0
    for start in range(low, high + 1, batch_size):
        with connection.cursor() as cursor:
            cursor.execute(
                _UPSERT.format(where="p.id >= %s AND p.id < %s"), [start, start + batch_size]
            )
            written += max(cursor.rowcount, 0)
        if progress is not None:
            progress(written, min(start + batch_size, high + 1) - low)
    return written


def fill_sql() -> str:
    """The statement that fills every document at once (bench/scale.py after loading rows)."""
    return _UPSERT.format(where="true")
