"""State that every worker must agree on, and what happens when Redis is gone.

- Failed-login limits count across gunicorn workers (the embedded default shares a file cache,
  Redis when REDIS_URL is set): ten failures are ten, whichever workers served them.
- With REDIS_URL pointing at a Redis that does not answer, the index keeps serving: twine
  uploads, pip installs, pages render (cache misses fall through to the database and jobs run
  in the request) and the log says why.
"""

from __future__ import annotations

import pytest

from tests.e2e.helpers import installed, login, make_venv, pip_install, twine_upload
from tests.e2e.servers import live_server_process

pytestmark = pytest.mark.e2e

PASSWORD = "a long enough test password 9"


def test_failed_login_limit_holds_across_workers(tmp_path):
    with live_server_process(tmp_path, WEB_CONCURRENCY="4", WEB_THREADS="1") as server:
        server.shell(
            "from django.contrib.auth import get_user_model; "
            "get_user_model().objects.create_user('carol', email='carol@example.com', "
            f"password={PASSWORD!r})"
        )
        statuses = []
        for _ in range(10):
            # A new connection each time, so gunicorn spreads them over its workers.
            server.http.close()
            statuses.append(
                login(server.http, server.url, username="carol", password="wrong password")
            )
        assert statuses == [200] * 10
        server.http.close()
        # The eleventh attempt is refused even with the right password, on any worker.
        assert login(server.http, server.url, username="carol", password=PASSWORD) == 429
        assert server.log().count("Booting worker") >= 4


def test_index_keeps_serving_when_redis_is_unreachable(tmp_path, dists):
    dead_redis = "redis://127.0.0.1:9/0"  # discard port: nothing answers
    with live_server_process(
        tmp_path / "server", REDIS_URL=dead_redis, CACHE_KEY_PREFIX=""
    ) as server:
        twine_upload(server.url, server.token, dists["base"].wheel, dists["base"].sdist)

        for path in ("/", "/simple/", "/simple/e2e-base-lib/", "/project/e2e.base-lib/"):
            assert server.get(path).status_code == 200, path
        assert server.get("/pypi/e2e.base-lib/json").status_code == 200
        # The description was rendered by its job, run in the request since no queue answered.
        page = server.get("/project/e2e.base-lib/").text
        assert '<div class="project-description">' in page
        assert "<em>small</em>" in page

        python = make_venv(tmp_path / "venv")
        pip_install(python, f"{server.url}/simple/", "e2e.base-lib")
        assert installed(python)["e2e-base-lib"] == dists["base"].version
        log = server.log()
        assert "Redis cache unavailable" in log or "Job queue unavailable" in log
        assert "Traceback" not in log
