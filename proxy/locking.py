"""One filler at a time per project page or file, across processes: a PostgreSQL session
advisory lock (every app server shares the database), or with SQLite (one machine) a file lock
under DATA_DIR. Session locks, not transaction ones, because a file's lock is held while its
bytes stream to the first client, after the view has returned."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from django.conf import settings
from django.db import connection

from pypi_site.locks import file_lock

# Namespace of the proxy's advisory locks; any constant unused elsewhere.
_PROXY_LOCKS = 0x7072


class FillLock:
    """Acquire now, release later (from a streaming response's generator, say)."""

    def __init__(self, kind: str, key: str) -> None:
        self._key = f"{kind}:{key}"
        self._kind = kind
        self._stack: ExitStack | None = None

    def acquire(self) -> None:
        stack = ExitStack()
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_advisory_lock(%s, hashtext(%s))", [_PROXY_LOCKS, self._key]
                )
            stack.callback(self._unlock_postgresql)
        else:
            directory = Path(settings.DATA_DIR) / "proxy-locks"
            directory.mkdir(parents=True, exist_ok=True)
            # 4,096 lock files at most; two keys sharing one only wait for each other.
            bucket = hashlib.sha256(self._key.encode()).hexdigest()[:3]
            stack.enter_context(file_lock(directory / f"{self._kind}-{bucket}.lock"))
        self._stack = stack

    def _unlock_postgresql(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", [_PROXY_LOCKS, self._key])

    def release(self) -> None:
        if self._stack is not None:
            stack, self._stack = self._stack, None
            stack.close()


@contextmanager
def fill_lock(kind: str, key: str) -> Iterator[None]:
    lock = FillLock(kind, key)
    lock.acquire()
    try:
        yield
    finally:
        lock.release()
