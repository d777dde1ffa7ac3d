"""Publishing with twine and uv, installing with pip and uv, all against a live server.

Every installer runs with PIP_*/UV_* variables removed and its configuration switched off, so the
index under test is the only place it can find anything.
"""

from __future__ import annotations

import hashlib
import json
import zipfile

import pytest

from tests.dists import make_wheel
from tests.e2e.helpers import (
    installed,
    make_venv,
    normalize,
    output,
    pip_install,
    run,
    twine_upload,
    uv_pip_install,
)

pytestmark = pytest.mark.e2e

CHAIN = {"e2e-top": "0.3.0", "e2e-middle": "2.1", "e2e-base-lib": "1.0.0", "e2e-extra": "1.2"}
MODULES = ("e2e_top", "e2e_middle", "e2e_base_lib", "e2e_extra")


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def wheel_paths(server, published) -> dict[str, str]:
    """{normalized name: path of its wheel under the server}, from the simple API."""
    paths = {}
    for dist in published.values():
        for entry in server.simple_json(normalize(dist.name))["files"]:
            if entry["filename"] == dist.wheel.name:
                paths[normalize(dist.name)] = entry["url"].removeprefix(server.url)
    return paths


def fetched_by(server, agent: str, since: int, paths) -> list[str]:
    """Access-log lines since line `since` of requests from `agent`, once they include a 200 GET
    of every path in `paths` and of its `.metadata`."""
    wanted = [f'"GET {p}{suffix} HTTP/1.1" 200 ' for p in paths for suffix in ("", ".metadata")]

    def from_agent(lines):
        return [line for line in lines if f'"{agent}' in line]

    def complete(lines):
        return all(any(w in line for line in from_agent(lines)) for w in wanted)

    return from_agent(server.access_lines_since(since, complete))


def test_twine_and_uv_publish_every_file(index_server, published):
    for dist in published.values():
        page = index_server.simple_json(normalize(dist.name))
        files = {entry["filename"]: entry for entry in page["files"]}
        assert set(files) == {dist.wheel.name, dist.sdist.name}
        for path in (dist.wheel, dist.sdist):
            assert files[path.name]["hashes"]["sha256"] == sha256(path)
            assert files[path.name]["url"].startswith(f"{index_server.url}/packages/")
            assert files[path.name]["requires-python"] == ">=3.9"
        assert files[dist.wheel.name]["core-metadata"]
        assert page["versions"] == [dist.version]
    uploads = [line for line in published.upload_lines if '"POST /legacy/ HTTP/1.1" 200 ' in line]
    assert sum('"twine/' in line for line in uploads) == 4
    assert sum('"uv/' in line for line in uploads) == 4


def test_pip_installs_the_chain_from_this_index_alone(index_server, published, tmp_path):
    python = make_venv(tmp_path / "venv")
    report = tmp_path / "report.json"
    since = len(index_server.access_lines())

    pip_install(python, f"{index_server.url}/simple/", "e2e-top[fancy]", report=report)

    downloads = {
        normalize(item["metadata"]["name"]): item["download_info"]["url"]
        for item in json.loads(report.read_text())["install"]
    }
    assert set(downloads) == set(CHAIN)
    wheels = wheel_paths(index_server, published)
    for name, url in downloads.items():
        assert url == f"{index_server.url}{wheels[name]}"
    assert installed(python) == CHAIN
    imported = run([python, "-c", f"import {', '.join(MODULES)}; print(e2e_base_lib.NAME)"])
    assert imported.stdout.strip() == "e2e.base-lib"
    # pip resolved from the PEP 658 metadata files, then fetched each wheel from this server.
    fetched = fetched_by(index_server, "pip/", since, wheels.values())
    for path in wheels.values():
        assert any(f'"GET {path}.metadata HTTP/1.1" 200 ' in line for line in fetched), fetched
        assert any(f'"GET {path} HTTP/1.1" 200 ' in line for line in fetched), fetched


def test_uv_installs_the_chain_from_this_index_alone(index_server, published, tmp_path):
    python = make_venv(tmp_path / "venv")
    since = len(index_server.access_lines())

    result = uv_pip_install(python, f"{index_server.url}/simple/", "e2e-top[fancy]")

    assert "Installed 4 packages" in output(result)
    assert installed(python) == CHAIN
    run([python, "-c", f"import {', '.join(MODULES)}"])
    wheels = wheel_paths(index_server, published)
    fetched = fetched_by(index_server, "uv/", since, wheels.values())
    for path in wheels.values():
        assert any(f'"GET {path}.metadata HTTP/1.1" 200 ' in line for line in fetched), fetched
        assert any(f'"GET {path} HTTP/1.1" 200 ' in line for line in fetched), fetched


def test_identical_reupload_with_twine_succeeds(index_server, published):
    base = published["base"]
    before = index_server.simple_json("e2e-base-lib")

    result = twine_upload(index_server.url, index_server.token, base.wheel, base.sdist)

    assert "File already exists" not in output(result)
    assert index_server.simple_json("e2e-base-lib") == before


def test_different_file_under_a_used_filename_is_refused(index_server, published, tmp_path):
    base = published["base"]
    changed = tmp_path / base.wheel.name
    with zipfile.ZipFile(base.wheel) as original, zipfile.ZipFile(changed, "w") as copy:
        for info in original.infolist():
            copy.writestr(info, original.read(info))
        copy.writestr("e2e_base_lib/added.py", "CHANGED = True\n")
    assert changed.read_bytes() != base.wheel.read_bytes()

    result = twine_upload(index_server.url, index_server.token, changed, check=False)

    assert result.returncode != 0
    assert "400" in output(result)
    assert "File already exists" in output(result)
    files = {f["filename"]: f for f in index_server.simple_json("e2e-base-lib")["files"]}
    assert files[base.wheel.name]["hashes"]["sha256"] == sha256(base.wheel)


def test_token_cannot_upload_to_another_users_project(index_server, published, tmp_path):
    other_token = index_server.create_user("e2e-other")

    refused = twine_upload(index_server.url, other_token, published["base"].wheel, check=False)

    assert refused.returncode != 0
    assert "403" in output(refused)
    assert "isn't allowed to upload to project 'e2e.base-lib'" in output(refused)
    # The same token is good for a project of its own.
    filename, content = make_wheel("e2e-other-own", "1.0")
    (tmp_path / filename).write_bytes(content)
    twine_upload(index_server.url, other_token, tmp_path / filename)
    roles = index_server.project_json("e2e-other-own")["ownership"]["roles"]
    assert roles == [{"role": "Owner", "user": "e2e-other"}]
    assert index_server.project_json("e2e.base-lib")["ownership"]["roles"] == [
        {"role": "Owner", "user": index_server.username}
    ]


def test_yanked_release_is_only_installed_when_pinned(index_server, published, tmp_path):
    index_url = f"{index_server.url}/simple/"
    index_server.manage("yank_release", "e2e-extra", "1.2", "broken")
    try:
        page = index_server.simple_json("e2e-extra")
        assert [f["yanked"] for f in page["files"]] == ["broken", "broken"]
        html = index_server.get("/simple/e2e-extra/", headers={"Accept": "text/html"}).text
        assert html.count('data-yanked="broken"') == 2
        info = index_server.project_json("e2e-extra")["info"]
        assert (info["yanked"], info["yanked_reason"]) == (True, "broken")

        python = make_venv(tmp_path / "pip-venv")
        unpinned = pip_install(python, index_url, "e2e-extra", check=False)
        assert unpinned.returncode != 0, output(unpinned)
        assert installed(python) == {}
        pinned = pip_install(python, index_url, "e2e-extra==1.2")
        assert "broken" in output(pinned)  # pip shows the yank reason
        assert installed(python) == {"e2e-extra": "1.2"}

        python = make_venv(tmp_path / "uv-venv")
        unpinned = uv_pip_install(python, index_url, "e2e-extra", check=False)
        assert unpinned.returncode != 0, output(unpinned)
        assert installed(python) == {}
        uv_pip_install(python, index_url, "e2e-extra==1.2")
        assert installed(python) == {"e2e-extra": "1.2"}
    finally:
        index_server.manage("unyank_release", "e2e-extra", "1.2")
    assert [f["yanked"] for f in index_server.simple_json("e2e-extra")["files"]] == [False, False]
