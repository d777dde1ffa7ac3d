"""Quarantine reaches the bytes: a pinned direct URL that real pip installed stops working once
staff quarantine the project, and works again when the quarantine is lifted."""

from __future__ import annotations

import hashlib

import pytest

from tests.dists import make_wheel
from tests.e2e.helpers import (
    installed,
    make_venv,
    normalize,
    output,
    pip_install,
    post_wheel,
)

pytestmark = pytest.mark.e2e

NAME = "e2e-quarantined"


def test_pinned_direct_url_stops_installing_once_quarantined(index_server, tmp_path):
    filename, content = make_wheel(NAME, "1.0")
    response = post_wheel(
        index_server.http,
        index_server.url,
        index_server.token,
        name=NAME,
        version="1.0",
        filename=filename,
        content=content,
    )
    assert response.status_code == 200, response.text
    (entry,) = index_server.simple_json(NAME)["files"]
    url = entry["url"]
    requirement = f"{NAME} @ {url}#sha256={hashlib.sha256(content).hexdigest()}"
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(requirement + "\n")
    index = f"{index_server.url}/simple/"

    before = make_venv(tmp_path / "before")
    pip_install(before, index, "-r", requirements)
    assert installed(before)[normalize(NAME)] == "1.0"

    index_server.manage("quarantine_project", NAME, "--reason", "e2e: malware report")
    for path in (url, f"{url}.metadata"):
        refused = index_server.http.get(path, timeout=30)
        assert refused.status_code == 404, path
        assert refused.headers["Cache-Control"] == "no-store"
    during = make_venv(tmp_path / "during")
    result = pip_install(during, index, "-r", requirements, check=False)
    assert result.returncode != 0
    assert "404" in output(result)
    assert normalize(NAME) not in installed(during)

    index_server.manage("quarantine_project", NAME, "--reason", "e2e: false alarm", "--clear")
    after = make_venv(tmp_path / "after")
    pip_install(after, index, "-r", requirements)
    assert installed(after)[normalize(NAME)] == "1.0"
