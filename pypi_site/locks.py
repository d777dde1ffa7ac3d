"""The two kinds of lock the index takes across processes: a file lock for what one machine
shares (the embedded default), and a PostgreSQL advisory lock for what every app server shares."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.db import connection


@contextmanager
def file_lock(path: Path | str) -> Iterator[None]:
    """Hold an exclusive flock on `path` (created if missing). Not re-entrant: a second
    open of the same file in one process waits for the first."""
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def advisory_xact_lock(namespace: int, key: str) -> None:
    """Take PostgreSQL's transaction advisory lock on (namespace, hash of key), held until the
    current transaction ends; the two-int form keeps each namespace apart from the others."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [namespace, key])
