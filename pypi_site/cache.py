"""The two cache backends: one that all embedded workers share, and a Redis one that survives
Redis going away.

Rate limits, banners and page caches must read the same in every gunicorn worker, so the
embedded default cannot be Django's per-process locmem cache. `SharedFileCache` keeps entries
as files under DATA_DIR (Django's file-based cache) and makes `add` and `incr` atomic across
processes with a lock file, so ten failed logins are ten whichever workers saw them.

With REDIS_URL set, `ResilientRedisCache` turns a Redis outage into cache misses: reads fall
through to the database, writes are dropped, and Redis is left alone for a few seconds before
the next try, so a dead Redis costs one connect timeout every few seconds, not one per call.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.core.cache.backends.filebased import FileBasedCache
from django.core.cache.backends.redis import RedisCache

from pypi_site.locks import file_lock

logger = logging.getLogger(__name__)


class SharedFileCache(FileBasedCache):
    @contextmanager
    def _locked(self) -> Iterator[None]:
        os.makedirs(self._dir, exist_ok=True)
        with file_lock(os.path.join(self._dir, ".lock")):
            yield

    def add(self, key: str, value: Any, timeout: Any = None, version: int | None = None) -> bool:
        with self._locked():
            return super().add(key, value, timeout, version)

    def incr(self, key: str, delta: int = 1, version: int | None = None) -> int:
        with self._locked():
            return super().incr(key, delta, version)

    def _list_cache_files(self) -> list[str]:
        # The lock file is not an entry: culling or clearing must not count or remove it.
        return [f for f in super()._list_cache_files() if not f.endswith(".lock")]


# Seconds to leave Redis alone after a failure.
RETRY_AFTER = 5.0


class ResilientRedisCache(RedisCache):
    """RedisCache whose every call answers like an empty cache while Redis is unreachable."""

    _down_until = 0.0
    _lock = threading.Lock()

    def _available(self) -> bool:
        return time.monotonic() >= ResilientRedisCache._down_until

    def _failed(self, operation: str, exc: Exception) -> None:
        with ResilientRedisCache._lock:
            first = self._available()
            ResilientRedisCache._down_until = time.monotonic() + RETRY_AFTER
        if first:
            logger.warning(
                "Redis cache unavailable (%s: %s); serving without it for %ss",
                operation,
                exc,
                RETRY_AFTER,
            )


def _degrade(fallback: Callable[..., Any]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def decorate(method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        def wrapper(self: ResilientRedisCache, *args: Any, **kwargs: Any) -> Any:
            if not self._available():
                return fallback(*args, **kwargs)
            try:
                return method(self, *args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - any Redis failure means "no cache"
                from redis.exceptions import RedisError

                if not isinstance(exc, RedisError | OSError):
                    raise
                self._failed(method.__name__, exc)
                return fallback(*args, **kwargs)

        return wrapper

    return decorate


def _default(key: str, default: Any = None, *args: Any, **kwargs: Any) -> Any:
    return default


def _none(*args: Any, **kwargs: Any) -> None:
    return None


def _incr(key: str, delta: int = 1, *args: Any, **kwargs: Any) -> int:
    return delta


# What each call answers while Redis is down: a miss, a dropped write, "added" (so a rate limit
# counts nothing rather than failing the request).
for _name, _fallback in {
    "get": _default,
    "get_many": lambda *a, **k: {},
    "has_key": lambda *a, **k: False,
    "set": _none,
    "set_many": lambda *a, **k: [],
    "add": lambda *a, **k: True,
    "touch": lambda *a, **k: False,
    "incr": _incr,
    "delete": lambda *a, **k: False,
    "delete_many": _none,
    "clear": lambda *a, **k: False,
}.items():
    setattr(
        ResilientRedisCache,
        _name,
        _degrade(_fallback)(getattr(RedisCache, _name)),
    )
