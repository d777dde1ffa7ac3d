"""Readiness: can this app server do its work right now?

The database, cache and storage checks are django-health-check's (a SELECT 1 on a connection
of its own; a set and get of a fresh key; a save, read and delete of a small object). It runs
every check at once, each under its own timeout, and turns any exception into a short message
without the details an outsider should not see (they go to the log). The job queue check is
ours: it asks RQ's Redis, and only when REDIS_URL is set; embedded, jobs run inline in the app
server and there is no queue to be down.
"""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass

from django.conf import settings
from health_check import Cache, Database, HealthCheck, Storage
from health_check.exceptions import ServiceUnavailable

from pypi_site.jobs import QUEUE

INLINE = "inline"


@dataclasses.dataclass
class JobQueue(HealthCheck):
    """The RQ queue's Redis answers; a wrong or absent queue setting is an error too."""

    queue: str = QUEUE

    def run(self) -> None:
        import django_rq
        from redis.exceptions import RedisError

        connection = django_rq.get_connection(self.queue)  # A new pool: closed below.
        try:
            connection.ping()
        except (RedisError, OSError) as exc:
            raise ServiceUnavailable(f"Redis did not answer ({type(exc).__name__})") from exc
        finally:
            connection.close()


def readiness_checks() -> dict[str, HealthCheck | None]:
    """Each dependency by the name the report gives it; None for one not in use here."""
    return {
        "database": Database(),
        "cache": Cache(),
        "storage": Storage(),
        "job_queue": JobQueue() if settings.REDIS_URL else None,
    }


@dataclass(frozen=True)
class Readiness:
    ready: bool
    checks: dict[str, dict[str, object]]


async def check_readiness() -> Readiness:
    """Run every check concurrently; the slowest one bounds the answer's time."""
    named = readiness_checks()
    running = {name: check for name, check in named.items() if check is not None}
    results = await asyncio.gather(*(check.get_result() for check in running.values()))
    report: dict[str, dict[str, object]] = {}
    for name in named:
        if name not in running:
            report[name] = {"status": INLINE}
    for name, result in zip(running, results, strict=True):
        entry: dict[str, object] = {
            "status": "error" if result.error else "ok",
            "latency_ms": round(result.time_taken * 1000, 2),
        }
        if result.error:
            entry["error"] = str(result.error)
        report[name] = entry
    ready = all(entry["status"] != "error" for entry in report.values())
    return Readiness(ready=ready, checks={name: report[name] for name in named})
