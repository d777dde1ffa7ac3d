"""Upload input against a live gunicorn: twine and uv pointed at /legacy without its slash
(twine never follows a redirect of an upload, so the address must take the POST itself)."""

from __future__ import annotations

import pytest

from tests.dists import make_wheel
from tests.e2e.helpers import VENV_BIN, output, run

pytestmark = pytest.mark.e2e


def test_twine_uploads_to_legacy_without_trailing_slash(index_server, tmp_path):
    filename, content = make_wheel("e2e-noslash-twine", "1.0")
    (tmp_path / filename).write_bytes(content)
    since = len(index_server.access_lines())

    result = run(
        [
            VENV_BIN / "twine",
            "upload",
            "--non-interactive",
            "--disable-progress-bar",
            "--repository-url",
            f"{index_server.url}/legacy",
            "-u",
            "__token__",
            "-p",
            index_server.token,
            tmp_path / filename,
        ],
        check=False,
    )

    assert result.returncode == 0, output(result)
    lines = index_server.access_lines_since(since, lambda lines: bool(lines))
    assert any('"POST /legacy HTTP/1.1" 200 ' in line for line in lines), lines
    files = index_server.simple_json("e2e-noslash-twine")["files"]
    assert [f["filename"] for f in files] == [filename]


def test_uv_publishes_to_legacy_without_trailing_slash(index_server, tmp_path):
    filename, content = make_wheel("e2e-noslash-uv", "1.0")
    (tmp_path / filename).write_bytes(content)
    since = len(index_server.access_lines())

    result = run(
        [
            VENV_BIN / "uv",
            "publish",
            "--no-config",
            "--trusted-publishing",
            "never",
            "--publish-url",
            f"{index_server.url}/legacy",
            "--token",
            index_server.token,
            tmp_path / filename,
        ],
        check=False,
    )

    assert result.returncode == 0, output(result)
    lines = index_server.access_lines_since(since, lambda lines: bool(lines))
    assert any('"POST /legacy HTTP/1.1" 200 ' in line for line in lines), lines
    files = index_server.simple_json("e2e-noslash-uv")["files"]
    assert [f["filename"] for f in files] == [filename]
