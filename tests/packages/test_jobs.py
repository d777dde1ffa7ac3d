"""Background jobs: inline after commit when embedded; with REDIS_URL (CI's second run), on the
queue, where a real `manage.py rqworker` process runs them, retries failures and leaves them
in django-rq's failed list for staff to see."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings as django_settings
from django.db import connection

from packages.jobs import extract_file_metadata, recompute_project_size, render_description
from packages.models import Project
from pypi_site import jobs
from tests.factories import make_files, make_project, make_release, make_user

REPO = Path(__file__).resolve().parents[2]
needs_redis = pytest.mark.skipif(not django_settings.REDIS_URL, reason="needs REDIS_URL")


@pytest.mark.django_db
def test_embedded_mode_runs_the_job_inline_after_commit(
    settings, django_capture_on_commit_callbacks
):
    settings.REDIS_URL = ""
    project = make_project("demo")
    make_files(make_release(project, "1.0"), 3)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        jobs.enqueue(recompute_project_size, project.pk)
        assert Project.objects.get().total_size == 0  # Not before the commit.
    assert len(callbacks) == 1
    assert Project.objects.get().total_size == 1000 + 1001 + 1002
    recompute_project_size(project.pk)  # Safe to run twice.
    recompute_project_size(project.pk + 1000)  # A deleted project is skipped.
    assert Project.objects.get().total_size == 3003


@pytest.mark.django_db
def test_embedded_mode_logs_a_failing_job_without_failing_the_request(
    settings, django_capture_on_commit_callbacks, caplog
):
    settings.REDIS_URL = ""
    file = make_files(make_release(make_project("demo"), "1.0"), 1)[0]  # No stored object.
    with caplog.at_level(logging.ERROR), django_capture_on_commit_callbacks(execute=True):
        jobs.enqueue(extract_file_metadata, file.pk)
    assert "Job extract_file_metadata failed" in caplog.text


def _queue():
    import django_rq

    queue = django_rq.get_queue(jobs.QUEUE)
    queue.empty()
    for registry in (queue.failed_job_registry, queue.finished_job_registry):
        for job_id in registry.get_job_ids():
            registry.remove(job_id, delete_job=True)
    return queue


def _run_worker(tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """`manage.py rqworker --burst` in its own process, on this test's database."""
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": (
            f"postgres://{quote(db['USER'] or '')}:{quote(db['PASSWORD'] or '')}@"
            f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
        ),
        "REDIS_URL": django_settings.REDIS_URL,
        "SECRET_KEY": "x",
        "DATA_DIR": str(tmp_path / "worker-data"),
    }
    return subprocess.run(
        [sys.executable, "manage.py", "rqworker", "--burst", jobs.QUEUE],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


needs_postgres = pytest.mark.skipif(
    "postgresql" not in django_settings.DATABASES["default"]["ENGINE"],
    reason="the worker process needs a database it can share (PostgreSQL)",
)


@needs_redis
@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_a_worker_process_runs_an_enqueued_render(tmp_path):
    queue = _queue()
    release = make_release(
        make_project("demo"),
        "1.0",
        description="Hello *queue*",
        description_content_type="text/markdown",
    )
    job = jobs.enqueue_now(render_description, release.pk)
    assert (job.retries_left, job.retry_intervals) == (3, [10, 60, 300])
    result = _run_worker(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    release.refresh_from_db()
    assert "<em>queue</em>" in release.description_html
    assert job.id in queue.finished_job_registry.get_job_ids()


@needs_redis
@pytest.mark.django_db
def test_enqueue_waits_for_the_commit_then_queues_with_retries(
    django_capture_on_commit_callbacks,
):
    queue = _queue()
    with django_capture_on_commit_callbacks(execute=True):
        jobs.enqueue(recompute_project_size, 12345)
        assert queue.count == 0
    (job,) = queue.get_jobs()
    assert job.func_name == "packages.jobs.recompute_project_size"
    assert job.args == (12345,)
    assert (job.retries_left, job.retry_intervals) == (3, [10, 60, 300])
    queue.empty()


@needs_redis
@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_a_failing_job_is_retried_then_shows_as_failed_to_staff(client, tmp_path, monkeypatch):
    queue = _queue()
    # No backoff here, so one burst worker does every attempt (in production the scheduler of
    # `rqworker --with-scheduler` re-queues after 10, 60 and 300 seconds).
    monkeypatch.setattr(jobs, "RETRY_INTERVALS", [0, 0, 0])
    file = make_files(make_release(make_project("demo"), "1.0"), 1)[0]  # Nothing stored.
    job = jobs.enqueue_now(extract_file_metadata, file.pk)
    result = _run_worker(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    job.refresh()
    assert job.is_failed
    assert job.retries_left == 0
    assert result.stderr.count("FileNotFoundError") + result.stdout.count("FileNotFoundError") >= 1
    assert job.id in queue.failed_job_registry.get_job_ids()

    failed_page = "/django-rq/queues/0/failed/"
    assert client.get(failed_page).status_code == 302  # Staff only.
    client.force_login(make_user("ops", is_staff=True))
    response = client.get(failed_page)
    assert response.status_code == 200
    assert job.id in response.content.decode()
    queue.failed_job_registry.remove(job.id, delete_job=True)


_started: list[str] = []


def _note(tag: str) -> None:
    _started.append(tag)


@pytest.mark.django_db(transaction=True)
def test_held_jobs_start_once_each_when_the_block_ends(settings):
    """An upload's new release and its file enqueue the same page job: it runs once, after the
    block (in the embedded default, after the upload lets go of the write lock)."""
    from django.db import transaction

    settings.REDIS_URL = ""
    _started.clear()
    with jobs.jobs_held():
        with transaction.atomic():
            jobs.enqueue(_note, "pages")
            jobs.enqueue(_note, "pages")
            jobs.enqueue(_note, "other")
        with transaction.atomic():
            jobs.enqueue(_note, "pages")
        assert _started == []  # Committed, but held.
        with pytest.raises(RuntimeError), transaction.atomic():
            jobs.enqueue(_note, "rolled back")
            raise RuntimeError
    assert _started == ["pages", "other"]


@pytest.mark.django_db(transaction=True)
def test_held_jobs_still_start_when_the_block_fails_after_a_commit(settings):
    from django.db import transaction

    settings.REDIS_URL = ""
    _started.clear()
    with pytest.raises(RuntimeError), jobs.jobs_held():
        with transaction.atomic():
            jobs.enqueue(_note, "committed")
        raise RuntimeError
    assert _started == ["committed"]


@pytest.mark.django_db(transaction=True)
def test_held_jobs_go_to_the_queue_once_each_with_redis(settings, monkeypatch):
    from django.db import transaction

    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    queued = []
    monkeypatch.setattr(jobs, "_enqueue_or_run", lambda func, *args: queued.append(args))
    with jobs.jobs_held(), transaction.atomic():
        jobs.enqueue(_note, "pages")
        jobs.enqueue(_note, "pages")
    assert queued == [("pages",)]


@needs_redis
def test_jobs_are_queued_over_one_redis_connection_per_process():
    """django_rq.get_queue opens a new connection on every call; jobs.enqueue_now must not."""
    queue = _queue()
    received = queue.connection.info("stats")["total_connections_received"]
    for pk in range(20):
        jobs.enqueue_now(recompute_project_size, pk)
    assert queue.count == 20
    opened = queue.connection.info("stats")["total_connections_received"] - received
    # One for the process's queue (if this is its first job), one for INFO's own client.
    assert opened <= 2, opened
    queue.empty()
