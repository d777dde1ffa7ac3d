"""With REDIS_URL (CI's second run) deliveries go on the queue, where a real `manage.py
rqworker` runs them and RQ's Retry tries a failed one again."""

from __future__ import annotations

import pytest
from django.db import transaction

from packages.events import EventTag, record_project_event
from pypi_site import jobs
from tests.factories import make_project, make_user
from tests.packages.test_jobs import _queue, _run_worker, needs_postgres, needs_redis
from tests.webhooks.conftest import SECRET
from tests.webhooks.receiver import running_receiver
from webhooks.models import Delivery, Subscription


@needs_redis
@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_the_worker_retries_a_failed_delivery_until_the_receiver_answers(
    tmp_path, monkeypatch, settings
):
    queue = _queue()
    # No backoff here, so one burst worker makes every attempt (in production the scheduler
    # of `rqworker --with-scheduler` runs them 10, 60 and 300 seconds apart).
    monkeypatch.setattr(jobs, "RETRY_INTERVALS", [0, 0, 0])
    monkeypatch.setenv("WEBHOOKS_ALLOW_PRIVATE", "1")
    project = make_project("demo", owner=make_user("alice"))
    with running_receiver(SECRET, statuses=[500, 502]) as flaky:
        Subscription.objects.create(
            project=project, project_name="demo", url=flaky.url, events=["release.yanked"],
            secret=SECRET,
        )  # fmt: skip
        with transaction.atomic():
            record_project_event(
                project=project, tag=EventTag.RELEASE_YANK, user=None, version="1.0"
            )
        assert flaky.received == []  # Queued, not sent by the request.
        assert queue.count == 1
        result = _run_worker(tmp_path)
        assert result.returncode == 0, result.stdout + result.stderr
        received = flaky.wait_for(3)
    assert len(received) == 3 and all(r.signature_valid for r in received)
    assert len({r.headers["X-Index-Delivery"] for r in received}) == 1
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.status_code, delivery.attempts) == ("delivered", 200, 3)
    assert queue.finished_job_registry.get_job_ids()
