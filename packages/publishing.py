"""After a project changes: its simple pages and JSON API document are rendered and stored
(packages/documents.py), its static simple pages and the root are rewritten
(STATIC_SIMPLE_PAGES) and the CDN is told to drop its copies (CDN_PURGE_URL).

`packages.journal.record_change`, which every change to a project goes through, calls
`project_changed`; the work runs from the job queue once the change has committed, off the
request path (inline after commit in the embedded default).
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings

from packages import cdn, documents, static_pages
from pypi_site.jobs import enqueue

# In the embedded default this job runs inside the request that made the change, and a
# project's pages cost time in proportion to its files: re-rendering them after every upload
# of a burst into a big project made each upload slower than the last (12.8 files/s at 1,400
# files, from 38). There a project's pages are stored at most once per interval; a read in
# between finds no current copy, renders and stores it (documents.StoredSource.save), so no
# reader ever gets a stale page. With a job queue the worker renders every change.
INLINE_RENDER_INTERVAL = timedelta(seconds=5)


def project_changed(*, normalized_name: str) -> None:
    """Called inside the writing transaction. A transaction that journals several changes to
    one project (a new release and its file) enqueues a job each; the later ones find the
    pages already at the project's serial and stop there."""
    enqueue(publish_change, normalized_name)


def publish_change(normalized_name: str) -> None:
    """The job: pages first, so a CDN that refetches after the purge gets the new ones from a
    static origin or the stored copies. Safe to run twice and out of order (documents and
    static_pages keep the newest serial)."""
    documents.render_project(
        normalized_name=normalized_name,
        not_within=None if settings.REDIS_URL else INLINE_RENDER_INTERVAL,
    )
    if settings.STATIC_SIMPLE_PAGES:
        static_pages.publish_project(normalized_name=normalized_name)
        static_pages.publish_root()
    cdn.purge(keys=cdn.keys_for_change(normalized_name=normalized_name))
