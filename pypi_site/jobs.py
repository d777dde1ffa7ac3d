"""The one way to run background work.

Without REDIS_URL a job runs in-process once the current transaction commits; with it the job
goes to django-rq and `manage.py rqworker --with-scheduler` runs it (the scheduler is what puts
a failed job back on the queue after its backoff). RQ's own synchronous mode is no substitute
because it still opens a Redis connection.

Jobs take ids, not rows, and must be safe to run twice: a retry, or a job enqueued twice for
the same change, must leave the same result.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import transaction

from pypi_site import metrics

logger = logging.getLogger(__name__)

# Seconds before the first, second and third retry of a failed job; then it stays failed (and
# shows in django-rq's "failed" list in admin).
RETRY_INTERVALS = [10, 60, 300]
QUEUE = "default"


def enqueue(func: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    if settings.REDIS_URL:
        transaction.on_commit(lambda: _enqueue_or_run(func, *args, **kwargs))
    else:
        transaction.on_commit(lambda: run_inline(func, *args, **kwargs))


def _enqueue_or_run(func: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    """With Redis unreachable the write has already committed; do the job here rather than
    lose it (slower for this one request, but nothing is left undone)."""
    from redis.exceptions import RedisError

    try:
        enqueue_now(func, *args, **kwargs)
    except (RedisError, OSError) as exc:
        logger.warning("Job queue unavailable (%s); running %s inline", exc, func.__qualname__)
        run_inline(func, *args, **kwargs)


def enqueue_now(func: Callable[..., Any], *args: Any, **kwargs: Any):
    """Put the job on the queue at once (commands and tests; request code uses `enqueue`)."""
    import django_rq
    from rq import Retry

    queue = django_rq.get_queue(QUEUE)
    return queue.enqueue_call(
        func=func,
        args=args,
        kwargs=kwargs,
        retry=Retry(max=len(RETRY_INTERVALS), interval=list(RETRY_INTERVALS)),
    )


def run_inline(func: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    """Embedded mode: run once, now. The write that enqueued the job has committed, so a
    failure is logged rather than turned into an error for the request that caused it."""
    try:
        func(*args, **kwargs)
    except Exception:
        metrics.INLINE_JOBS_FAILED.inc()
        logger.exception("Job %s failed", getattr(func, "__qualname__", func))
