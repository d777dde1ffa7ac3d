"""The delivery job, enqueued once per delivery with pypi_site.jobs.enqueue.

Retries with backoff mean two things:
- With Redis the job is on RQ's queue with its Retry (pypi_site.jobs.RETRY_INTERVALS: 10 s,
  60 s, 5 min, run by `rqworker --with-scheduler`). Each run makes one attempt and raises when
  it fails, so RQ schedules the next one.
- Embedded (no Redis) there is no scheduler and nothing runs after the request ends: the job
  runs in the request that made the change, after its commit. So it makes at most
  WEBHOOKS_INLINE_ATTEMPTS attempts at once, pausing INLINE_PAUSE_SECONDS, then twice that,
  between them; a receiver that is down for longer shows as failed in the log, and its owner
  presses "redeliver". The request waits at most attempts x WEBHOOKS_TIMEOUT (+ the pauses).
"""

from __future__ import annotations

import logging
import time

from django.conf import settings

from webhooks.models import Delivery, DeliveryStatus
from webhooks.sending import attempt

logger = logging.getLogger(__name__)

INLINE_PAUSE_SECONDS = 0.5


class DeliveryFailed(Exception):
    """Raised on the queue so RQ retries the job after its backoff."""


def deliver(delivery_id: str) -> None:
    """Send one delivery; safe to run twice (a delivered row is not sent again)."""
    from rq import get_current_job

    delivery = Delivery.objects.select_related("subscription").filter(pk=delivery_id).first()
    if delivery is None or delivery.status == DeliveryStatus.DELIVERED:
        return
    job = get_current_job()
    if job is not None:
        outcome = attempt(delivery, will_retry=bool(job.retries_left))
        if not outcome.delivered and outcome.retryable:
            raise DeliveryFailed(outcome.error)
        return
    attempts = max(1, settings.WEBHOOKS_INLINE_ATTEMPTS)
    for number in range(1, attempts + 1):
        outcome = attempt(delivery, will_retry=number < attempts)
        if outcome.delivered or not outcome.retryable:
            break
        if number < attempts:
            time.sleep(INLINE_PAUSE_SECONDS * 2 ** (number - 1))
    if not outcome.delivered:
        logger.warning("Webhook delivery %s failed: %s", delivery_id, outcome.error)
