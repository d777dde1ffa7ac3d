from __future__ import annotations

import pytest
from django.core.cache import caches

from pypi_site.cache import ResilientRedisCache

pytestmark = pytest.mark.django_db

CHECKS = ["database", "cache", "storage", "job_queue"]


def test_liveness_answers_without_touching_the_database(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/_health/")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_ready_names_each_check_with_its_latency(client, settings):
    settings.REDIS_URL = ""
    response = client.get("/_health/ready")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ok"
    assert list(body["checks"]) == CHECKS
    for name in ("database", "cache", "storage"):
        assert body["checks"][name]["status"] == "ok"
        assert isinstance(body["checks"][name]["latency_ms"], float)
    # Embedded: jobs run in the app server, there is no queue to check.
    assert body["checks"]["job_queue"] == {"status": "inline"}


def test_ready_is_json_whatever_the_accept_header(client, settings):
    settings.REDIS_URL = ""
    response = client.get("/_health/ready", HTTP_ACCEPT="text/html")
    assert response["Content-Type"] == "application/json"


def test_ready_is_503_when_the_cache_does_not_answer(client, settings, monkeypatch):
    # A Redis cache on a port nothing listens on: the resilient backend answers every read
    # with a miss, so the set-then-get probe finds nothing.
    monkeypatch.setattr(ResilientRedisCache, "_down_until", 0.0)
    settings.CACHES = {
        **settings.CACHES,
        "default": {
            "BACKEND": "pypi_site.cache.ResilientRedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 1},
        },
    }
    response = client.get("/_health/ready")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["cache"]["status"] == "error"
    assert checks["cache"]["error"]
    assert checks["database"]["status"] == "ok"
    caches["default"].close()


def test_ready_is_503_when_storage_cannot_be_written(client, settings, tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the storage folder should be")
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": blocker / "files"},
        },
    }
    response = client.get("/_health/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "error"
    assert body["checks"]["storage"]["status"] == "error"
    # The cause goes to the log, not to whoever asks.
    assert "not-a-directory" not in response.content.decode()
    assert body["checks"]["cache"]["status"] == "ok"


def test_ready_checks_the_job_queue_with_redis(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    settings.RQ_QUEUES = {"default": {"URL": "redis://127.0.0.1:1/0?socket_connect_timeout=1"}}
    response = client.get("/_health/ready")
    assert response.status_code == 503
    job_queue = response.json()["checks"]["job_queue"]
    assert job_queue["status"] == "error"
    assert "Redis did not answer" in job_queue["error"]
    assert isinstance(job_queue["latency_ms"], float)
