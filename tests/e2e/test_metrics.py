"""Health and metrics on the real gunicorn with several workers.

Real twine uploads (one accepted, one refused as a different file under a used name, one with
a bad token), real pip and plain HTTP reads, then `/metrics` must report exactly those counts
whichever worker answers the scrape: each worker counted its own share in the multi-process
directory and the scrape adds them up. `/_health/ready` names every check.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.dists import make_wheel
from tests.e2e.helpers import http_session, make_venv, output, pip_install, twine_upload
from tests.e2e.servers import LiveServer, live_server_process

pytestmark = pytest.mark.e2e

NAME = "metered-lib"
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(server: LiveServer) -> Samples:
    response = server.get("/metrics", headers={"Connection": "close"})
    assert response.status_code == 200, response.text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def requests_total(samples: Samples, route: str, status: int, method: str = "GET") -> float:
    key = (
        "pypi_http_requests_total",
        (("method", method), ("route", route), ("status", str(status))),
    )
    return samples.get(key, 0.0)


def get_each_on_a_new_connection(server: LiveServer, path: str, count: int) -> list[int]:
    """`count` GETs, eight at a time, each on its own connection so that gunicorn hands them to
    different workers."""

    def one(_i: int) -> int:
        with http_session() as session:
            response = session.get(f"{server.url}{path}", headers={"Connection": "close"})
            return response.status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(one, range(count)))


def worker_pids_that_counted(server: LiveServer) -> set[str]:
    # prometheus_client names each process's file counter_<pid>.db.
    return {p.stem.rsplit("_", 1)[1] for p in (server.data_dir / "prometheus").glob("counter_*")}


def test_counters_add_up_across_workers(tmp_path):
    with live_server_process(tmp_path / "server", WEB_CONCURRENCY="3", LOG_FORMAT="json") as server:
        _check_readiness(server)
        before = scrape(server)

        # 1. Uploads: one accepted, then a different file under the same name, then a bad token.
        filename, content = make_wheel(NAME, "1.0")
        accepted = tmp_path / "accepted" / filename
        accepted.parent.mkdir()
        accepted.write_bytes(content)
        twine_upload(server.url, server.token, accepted)
        _other_name, other_content = make_wheel(NAME, "1.0", payload=b"VALUE = 2\n")
        clash = tmp_path / "clash" / filename
        clash.parent.mkdir()
        clash.write_bytes(other_content)
        refused = twine_upload(server.url, server.token, clash, check=False)
        assert refused.returncode != 0 and "File already exists" in output(refused)
        bad_token = twine_upload(server.url, "pypi-not-a-real-token", accepted, check=False)
        assert bad_token.returncode != 0 and "403" in output(bad_token)

        # 2. Plain HTTP reads spread over the workers, until at least two of them have counted.
        simple_reads = file_reads = 0
        file_url = server.simple_json(NAME)["files"][0]["url"]
        file_path = file_url.removeprefix(server.url)
        simple_reads += 1  # the lookup above
        for _burst in range(10):
            assert get_each_on_a_new_connection(server, f"/simple/{NAME}/", 16) == [200] * 16
            assert get_each_on_a_new_connection(server, file_path, 4) == [200] * 4
            simple_reads += 16
            file_reads += 4
            if len(worker_pids_that_counted(server)) >= 2:
                break
        assert len(worker_pids_that_counted(server)) >= 2, "one worker served every request"

        # 3. The same totals whichever worker answers the scrape.
        after = [scrape(server) for _ in range(4)]
        file_bytes = file_reads * len(content)
        for samples in after:
            _assert_moved(before, samples, simple_reads=simple_reads, file_bytes=file_bytes)

        # 4. pip reads the index and downloads the wheel: more simple pages and file bytes.
        python = make_venv(tmp_path / "venv")
        pip_install(python, f"{server.url}/simple/", NAME)
        final = scrape(server)
        bytes_key = ("pypi_file_bytes_served_total", (("kind", "file"),))
        assert final[bytes_key] >= after[-1][bytes_key] + len(content)
        assert requests_total(final, "simple-detail", 200) > requests_total(
            after[-1], "simple-detail", 200
        )

        _check_request_ids_in_json_logs(server)


def _assert_moved(before: Samples, after: Samples, *, simple_reads: int, file_bytes: int) -> None:
    def delta(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert delta("pypi_uploads_accepted_total", new="true") == 1
    assert delta("pypi_uploads_refused_total", reason="file-exists") == 1
    assert delta("pypi_uploads_refused_total", reason="invalid-token") == 1
    assert (
        requests_total(after, "legacy-upload", 200, "POST")
        - requests_total(before, "legacy-upload", 200, "POST")
        == 1
    )
    assert (
        requests_total(after, "legacy-upload", 400, "POST")
        - requests_total(before, "legacy-upload", 400, "POST")
        == 1
    )
    assert (
        requests_total(after, "legacy-upload", 403, "POST")
        - requests_total(before, "legacy-upload", 403, "POST")
        == 1
    )
    assert (
        requests_total(after, "simple-detail", 200) - requests_total(before, "simple-detail", 200)
        == simple_reads
    )
    assert delta("pypi_http_request_duration_seconds_count", route="simple-detail") == simple_reads
    # Each simple page read is one page-cache lookup: a hit in some tier, or a miss.
    lookups = (
        delta("pypi_page_cache_hits_total", tier="local")
        + delta("pypi_page_cache_hits_total", tier="shared")
        + delta("pypi_page_cache_hits_total", tier="stored")
        + delta("pypi_page_cache_misses_total")
    )
    assert lookups == simple_reads
    # The new page's first read came from below the caches: the copy the upload's job stored,
    # or a render where no job has run yet (a queue without a worker).
    assert (
        delta("pypi_page_cache_hits_total", tier="stored") + delta("pypi_page_cache_misses_total")
        >= 1
    )
    assert delta("pypi_file_bytes_served_total", kind="file") == file_bytes
    # No raw path ever becomes a label.
    assert not any(NAME in str(labels) for _name, labels in after)


def _check_readiness(server: LiveServer) -> None:
    assert server.get("/_health/").json() == {"status": "ok"}
    response = server.get("/_health/ready")
    assert response.status_code == 200, response.text
    checks = response.json()["checks"]
    assert list(checks) == ["database", "cache", "storage", "job_queue"]
    for name in ("database", "cache", "storage"):
        assert checks[name]["status"] == "ok"
        assert checks[name]["latency_ms"] >= 0
    expected_queue = "ok" if server.env.get("REDIS_URL") else "inline"
    assert checks["job_queue"]["status"] == expected_queue


def _check_request_ids_in_json_logs(server: LiveServer) -> None:
    response = server.get("/simple/no-such-project-here/", headers={"X-Request-ID": "e2e-trace-1"})
    assert response.status_code == 404
    assert response.headers["X-Request-ID"] == "e2e-trace-1"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        lines = [json.loads(line) for line in server.log().splitlines() if line.startswith("{")]
        ours = [line for line in lines if line["request_id"] == "e2e-trace-1"]
        access = [line for line in server.access_lines() if line.endswith(" e2e-trace-1")]
        if ours and access:
            break
        time.sleep(0.1)
    assert ours and ours[0]["message"].startswith("Not Found"), lines[-5:]
    assert access and '"GET /simple/no-such-project-here/ HTTP/1.1" 404' in access[0]


def test_metrics_refuse_a_remote_client_without_the_token(tmp_path):
    """From a non-loopback address (the proxy-reported one, with BEHIND_PROXY) /metrics needs
    the bearer token; loopback needs none."""
    with live_server_process(
        tmp_path / "server", BEHIND_PROXY="1", METRICS_TOKEN="e2e-metrics-token"
    ) as server:
        remote = {"X-Forwarded-For": "198.51.100.7"}
        assert server.get("/metrics", headers=remote).status_code == 403
        with_token = {**remote, "Authorization": "Bearer e2e-metrics-token"}
        response = server.get("/metrics", headers=with_token)
        assert response.status_code == 200
        assert "pypi_http_requests_total" in response.text
        assert server.get("/metrics").status_code == 200
