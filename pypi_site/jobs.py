"""The one way to run background work.

Without REDIS_URL a job runs in-process once the current transaction commits; with it the job
goes to django-rq and `manage.py rqworker` runs it. RQ's own synchronous mode is no substitute
because it still opens a Redis connection.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import transaction


def enqueue(func: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    if settings.REDIS_URL:
        import django_rq

        transaction.on_commit(lambda: django_rq.enqueue(func, *args, **kwargs))
    else:
        transaction.on_commit(lambda: func(*args, **kwargs))
