from __future__ import annotations

import operator
import os

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from packages.models import File
from tests.factories import make_token, make_user, post_upload, wheel_upload

pytestmark = pytest.mark.django_db


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def scrape(client, **extra) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics", **extra)
    assert response.status_code == 200, response.content
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


# --- Who may read /metrics ----------------------------------------------------------------------


def test_loopback_clients_read_metrics_without_a_token(client):
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert b"pypi_http_requests_total" in response.content
    assert client.get("/metrics", REMOTE_ADDR="::1").status_code == 200


def test_other_clients_get_404_when_no_token_is_configured(client, settings):
    settings.METRICS_TOKEN = ""
    response = client.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer x")
    assert response.status_code == 404


def test_a_bearer_token_opens_metrics_from_anywhere(client, settings):
    settings.METRICS_TOKEN = "s3cret-metrics-token"
    remote = {"REMOTE_ADDR": "203.0.113.9"}
    assert client.get("/metrics", **remote).status_code == 403
    assert (
        client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong-token", **remote).status_code == 403
    )
    assert (
        client.get(
            "/metrics", HTTP_AUTHORIZATION="Basic s3cret-metrics-token", **remote
        ).status_code
        == 403
    )
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-metrics-token", **remote)
    assert response.status_code == 200
    assert b"pypi_http_requests_total" in response.content


def test_loopback_can_be_refused(client, settings):
    settings.METRICS_ALLOW_LOOPBACK = False
    settings.METRICS_TOKEN = "t"
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 403


def test_behind_a_proxy_the_forwarded_address_counts_not_the_proxy(client, settings):
    """With BEHIND_PROXY, a local proxy's REMOTE_ADDR is loopback for every client: the
    address it appended to X-Forwarded-For decides (accounts.events.client_ip)."""
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.METRICS_TOKEN = ""
    outsider = client.get(
        "/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="127.0.0.1, 198.51.100.7"
    )
    assert outsider.status_code == 404
    local = client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="127.0.0.1")
    assert local.status_code == 200


def test_openmetrics_when_the_scraper_asks_for_it(client):
    response = client.get(
        "/metrics", REMOTE_ADDR="127.0.0.1", HTTP_ACCEPT="application/openmetrics-text"
    )
    assert response["Content-Type"].startswith("application/openmetrics-text")
    assert response.content.rstrip().endswith(b"# EOF")


# --- What is counted ----------------------------------------------------------------------------


def test_requests_are_counted_by_route_name_not_path(client):
    before = value("pypi_http_requests_total", route="simple-detail", method="GET", status="404")
    hist_before = value("pypi_http_request_duration_seconds_count", route="simple-detail")
    client.get("/simple/no-such-project-1/")
    client.get("/simple/no-such-project-2/")
    samples = scrape(client, REMOTE_ADDR="127.0.0.1")
    key = (
        "pypi_http_requests_total",
        (("method", "GET"), ("route", "simple-detail"), ("status", "404")),
    )
    assert samples[key] == before + 2
    assert (
        samples[("pypi_http_request_duration_seconds_count", (("route", "simple-detail"),))]
        == hist_before + 2
    )
    assert not any("no-such-project" in str(labels) for _name, labels in samples)


def test_unmatched_paths_share_one_route_label(client):
    before = value("pypi_http_requests_total", route="<unresolved>", method="GET", status="404")
    client.get("/nothing/here/at/all")
    assert (
        value("pypi_http_requests_total", route="<unresolved>", method="GET", status="404")
        == before + 1
    )


def test_bytes_served_by_the_file_route(client):
    upload = wheel_upload("demo", "1.0")
    assert post_upload(client, upload, make_token(make_user())).status_code == 200
    file = File.objects.get()
    files_before = value("pypi_file_bytes_served_total", kind="file")
    metadata_before = value("pypi_file_bytes_served_total", kind="metadata")

    whole = client.get(f"/packages/{file.path}")
    b"".join(whole.streaming_content)
    client.get(f"/packages/{file.path}", HTTP_RANGE="bytes=0-9")
    not_modified = client.get(f"/packages/{file.path}", HTTP_IF_NONE_MATCH=whole["ETag"])
    assert not_modified.status_code == 304
    metadata = client.get(f"/packages/{file.path}.metadata")
    metadata_size = len(b"".join(metadata.streaming_content))

    assert (
        value("pypi_file_bytes_served_total", kind="file")
        == files_before + len(upload.content) + 10
    )
    assert value("pypi_file_bytes_served_total", kind="metadata") == (
        metadata_before + metadata_size
    )


def test_page_cache_hits_and_misses(client):
    assert post_upload(client, wheel_upload("demo", "1.0"), make_token(make_user())).status_code
    misses = value("pypi_page_cache_misses_total")
    local = value("pypi_page_cache_hits_total", tier="local")
    shared = value("pypi_page_cache_hits_total", tier="shared")

    client.get("/simple/demo/")  # rendered
    client.get("/simple/demo/")  # this process's copy
    from packages.responses import local_pages

    local_pages.clear()
    client.get("/simple/demo/")  # the shared cache's copy

    assert value("pypi_page_cache_misses_total") == misses + 1
    assert value("pypi_page_cache_hits_total", tier="local") == local + 1
    assert value("pypi_page_cache_hits_total", tier="shared") == shared + 1


def test_failed_inline_jobs_are_counted(settings):
    from pypi_site.jobs import run_inline

    def broken_job() -> None:
        raise RuntimeError("boom")

    before = value("pypi_inline_jobs_failed_total")
    run_inline(broken_job)
    assert value("pypi_inline_jobs_failed_total") == before + 1


def test_job_queue_metrics_read_from_redis_at_scrape_time(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    settings.RQ_QUEUES = {"default": {"URL": "redis://127.0.0.1:1/0?socket_connect_timeout=1"}}
    samples = scrape(client, REMOTE_ADDR="127.0.0.1")
    # Redis down: the scrape still answers, and says so.
    assert samples[("pypi_job_queue_up", ())] == 0
    assert any(name == "pypi_http_requests_total" for name, _labels in samples)


def test_job_queue_depth_and_failures_with_a_real_redis(
    client, settings, django_capture_on_commit_callbacks
):
    if not os.environ.get("REDIS_URL"):
        pytest.skip("needs REDIS_URL (the PostgreSQL + Redis run sets it)")
    import django_rq
    from rq import SimpleWorker

    from pypi_site.jobs import enqueue_now

    settings.REDIS_URL = os.environ["REDIS_URL"]
    queue = django_rq.get_queue("default")
    _empty(queue)
    try:
        # One job fails for good (no retries), run by a real worker; two wait. django-rq
        # enqueues when the test's transaction would commit.
        with django_capture_on_commit_callbacks(execute=True):
            queue.enqueue(operator.truediv, 1, 0)
        SimpleWorker([queue], connection=queue.connection).work(burst=True)
        with django_capture_on_commit_callbacks(execute=True):
            enqueue_now(print, "queued by the metrics test")
            enqueue_now(print, "and another")

        samples = scrape(client, REMOTE_ADDR="127.0.0.1")
        assert samples[("pypi_job_queue_up", ())] == 1
        assert samples[("rq_jobs", (("queue", "default"), ("status", "queued")))] == 2
        assert samples[("rq_jobs", (("queue", "default"), ("status", "failed")))] == 1
    finally:
        _empty(queue)


def _empty(queue) -> None:
    queue.empty()
    for job_id in queue.failed_job_registry.get_job_ids():
        queue.failed_job_registry.remove(job_id, delete_job=True)
