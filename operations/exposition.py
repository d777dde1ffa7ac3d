"""What `/metrics` sends and to whom.

Counters and histograms (pypi_site/metrics.py) come from every gunicorn worker's files in
PROMETHEUS_MULTIPROC_DIR, or from this process when that is not set. The job queue's depth and
failed jobs are not counted by the app: django-rq's collector reads them from Redis at scrape
time, so every app server reports the same numbers.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
from collections.abc import Iterator

from django.conf import settings
from django.http import HttpRequest
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector

from accounts.events import client_ip
from pypi_site.metrics import NAMESPACE

logger = logging.getLogger(__name__)


def metrics_denial(request: HttpRequest) -> int | None:
    """None if `request` may read the metrics, else the status to answer: 404 to a client
    that has no way in (no METRICS_TOKEN configured), 403 to a wrong or missing token.

    The right bearer token is enough from anywhere; a loopback client (REMOTE_ADDR, or the
    proxy-reported address with BEHIND_PROXY) needs none unless METRICS_ALLOW_LOOPBACK is off.
    """
    token = settings.METRICS_TOKEN
    scheme, _, credentials = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if token and scheme.lower() == "bearer":
        # Constant time, so the token cannot be guessed a byte at a time from response times.
        if hmac.compare_digest(credentials.strip().encode(), token.encode()):
            return None
        return 403
    if settings.METRICS_ALLOW_LOOPBACK and _is_loopback(client_ip(request)):
        return None
    return 403 if token else 404


def _is_loopback(address: str | None) -> bool:
    try:
        return address is not None and ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def render(*, accept: str) -> tuple[bytes, str]:
    """The exposition body and its content type (OpenMetrics when the scraper asks for it)."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)
    else:
        registry.register(_ThisProcess())
    if settings.REDIS_URL:
        registry.register(JobQueueCollector())
    encoder, content_type = choose_encoder(accept)
    return encoder(registry), content_type


class _ThisProcess:
    """The default registry, as a collector of the per-scrape registry."""

    def collect(self) -> Iterator[Metric]:
        return REGISTRY.collect()


class JobQueueCollector:
    """django-rq's collector (`rq_jobs{queue,status}`: status "queued" is the depth, "failed"
    the jobs whose retries ran out; `rq_workers`; per-worker job counts), read from Redis at
    scrape time, plus `pypi_job_queue_up`: 0 when Redis does not answer, instead of failing
    the whole scrape."""

    def collect(self) -> Iterator[Metric]:
        from django_rq.contrib.prometheus import RQCollector
        from redis.exceptions import RedisError

        up = GaugeMetricFamily(
            f"{NAMESPACE}_job_queue_up", "1 if the job queue's Redis answered this scrape."
        )
        try:
            # The collector reads everything before it yields its first metric.
            queue_metrics = list(RQCollector().collect())
        except (RedisError, OSError) as exc:
            logger.warning("Job queue unavailable for metrics (%s)", exc)
            queue_metrics = []
        up.add_metric([], 1 if queue_metrics else 0)
        yield up
        yield from queue_metrics
