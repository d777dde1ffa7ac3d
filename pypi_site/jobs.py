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
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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
    transaction.on_commit(lambda: _start(func, args, kwargs))


def _start(func: Callable[..., Any], args: tuple, kwargs: dict) -> None:
    """Once the enqueuing write has committed: queue the job (run it, embedded), or with a
    `jobs_held` block around the write, leave it to the block's end."""
    held = getattr(_held, "jobs", None)
    if held is not None:
        held.setdefault(_job_key(func, args, kwargs), (func, args, kwargs))
    elif settings.REDIS_URL:
        _enqueue_or_run(func, *args, **kwargs)
    else:
        run_inline(func, *args, **kwargs)


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
    from rq import Retry

    return _queue().enqueue_call(
        func=func,
        args=args,
        kwargs=kwargs,
        retry=Retry(max=len(RETRY_INTERVALS), interval=list(RETRY_INTERVALS)),
    )


_queues: dict[tuple[int, str], Any] = {}
_queues_lock = threading.Lock()


def _queue():
    """The queue, made once per process and Redis URL: `django_rq.get_queue` builds a new
    Redis client, so a new connection, on every call, which was 13% of an upload's CPU on
    PostgreSQL. redis-py's pool is thread-safe and reconnects after an outage; the process id
    is in the key so that a forked worker never uses its parent's sockets."""
    import django_rq

    key = (os.getpid(), settings.RQ_QUEUES[QUEUE].get("URL", ""))
    queue = _queues.get(key)
    if queue is None:
        with _queues_lock:
            queue = _queues.get(key) or django_rq.get_queue(QUEUE)
            _queues[key] = queue
    return queue


_held = threading.local()


@contextmanager
def jobs_held() -> Iterator[None]:
    """The jobs that writes commit inside this block start when it ends, each distinct job
    (function and arguments) once, instead of one by one at each commit.

    An upload of a new release and its file enqueues the same page job twice; and in the
    embedded default, where jobs run in the request, an upload commits while it holds the
    database's write lock, which every other upload would wait on while its pages render."""
    if getattr(_held, "jobs", None) is not None:
        yield  # An enclosing block starts them.
        return
    _held.jobs = {}
    try:
        yield
    finally:
        jobs, _held.jobs = _held.jobs, None
        for func, args, kwargs in jobs.values():
            _start(func, args, kwargs)


def _job_key(func: Callable[..., Any], args: tuple, kwargs: dict) -> object:
    key = (func, args, tuple(sorted(kwargs.items())))
    try:
        hash(key)
    except TypeError:  # Unhashable arguments: never taken for a duplicate.
        return object()
    return key


def run_inline(func: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    """Embedded mode: run once, now. The write that enqueued the job has committed, so a
    failure is logged rather than turned into an error for the request that caused it."""
    try:
        func(*args, **kwargs)
    except Exception:
        metrics.INLINE_JOBS_FAILED.inc()
        logger.exception("Job %s failed", getattr(func, "__qualname__", func))
