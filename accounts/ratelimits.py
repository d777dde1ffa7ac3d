"""Abuse limits, counted in Django's cache (a file cache under DATA_DIR embedded, Redis when
REDIS_URL is set; see pypi_site/cache.py), so every worker and app server sees the same counts.

Each limit is "COUNT/SECONDS" in `settings.RATE_LIMITS`, counted in fixed windows of SECONDS
per identifier (a user id or an IP address). Callers `check` before the action and `hit` when
it happened (for logins: when it failed).
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache


class RateLimited(Exception):
    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


@dataclass(frozen=True)
class Limit:
    name: str
    count: int
    period: int

    @classmethod
    def named(cls, name: str) -> Limit:
        count, _, period = settings.RATE_LIMITS[name].partition("/")
        return cls(name=name, count=int(count), period=int(period))

    def _window(self) -> tuple[str, float]:
        """The current window's number and the seconds left in it."""
        now = time.time()
        number = int(now // self.period)
        return str(number), (number + 1) * self.period - now

    def _key(self, identifier: str, window: str) -> str:
        digest = hashlib.sha256(identifier.encode()).hexdigest()[:32]
        return f"ratelimit:{self.name}:{digest}:{window}"

    def hit(self, identifier: str) -> None:
        window, left = self._window()
        key = self._key(identifier, window)
        if not cache.add(key, 1, timeout=math.ceil(left) + 1):
            try:
                cache.incr(key)
            except ValueError:  # expired between add and incr
                cache.set(key, 1, timeout=math.ceil(left) + 1)

    def retry_after(self, identifier: str) -> int | None:
        """Seconds until `identifier` may try again, or None while it is under the limit."""
        window, left = self._window()
        if cache.get(self._key(identifier, window), 0) >= self.count:
            return max(1, math.ceil(left))
        return None

    def clear(self, identifier: str) -> None:
        window, _left = self._window()
        cache.delete(self._key(identifier, window))


def check(*pairs: tuple[str, object], message: str) -> None:
    """Raise RateLimited if any (limit name, identifier) pair is over its limit; empty
    identifiers (no IP known, no user yet) are skipped."""
    waits = [
        wait
        for name, identifier in pairs
        if identifier not in (None, "")
        and (wait := Limit.named(name).retry_after(str(identifier))) is not None
    ]
    if waits:
        raise RateLimited(message, retry_after=max(waits))


def is_limited(*pairs: tuple[str, object]) -> bool:
    """Whether any pair is over its limit, for limits that act silently."""
    try:
        check(*pairs, message="")
    except RateLimited:
        return True
    return False


def hit(*pairs: tuple[str, object]) -> None:
    for name, identifier in pairs:
        if identifier not in (None, ""):
            Limit.named(name).hit(str(identifier))


def clear(*pairs: tuple[str, object]) -> None:
    for name, identifier in pairs:
        if identifier not in (None, ""):
            Limit.named(name).clear(str(identifier))
