"""Uploads racing each other across the server's worker processes and threads.

Each test releases all its requests at once (a barrier) at a project nobody has created yet, so
project creation, release creation and the duplicate-filename rules are all contended.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.dists import make_wheel
from tests.e2e.helpers import http_session, post_wheel, storage_key

pytestmark = pytest.mark.e2e


def upload_at_once(server, name: str, wheels: list[tuple[str, str, bytes]]) -> list:
    """POST every (version, filename, content) at the same moment; the responses in order."""
    barrier = threading.Barrier(len(wheels))

    def upload(wheel: tuple[str, str, bytes]):
        version, filename, content = wheel
        session = http_session()
        session.get(f"{server.url}/simple/", timeout=30)  # connect before the race starts
        barrier.wait(timeout=30)
        return post_wheel(
            session,
            server.url,
            server.token,
            name=name,
            version=version,
            filename=filename,
            content=content,
        )

    with ThreadPoolExecutor(max_workers=len(wheels)) as pool:
        return list(pool.map(upload, wheels))


def rows(server, normalized_name: str) -> dict[str, int]:
    """Row counts straight from the server's database."""
    code = (
        "import json; from packages.models import File, Project, Release, Role; "
        f"p = Project.objects.filter(normalized_name={normalized_name!r}); "
        "print(json.dumps({'projects': p.count(), "
        "'releases': Release.objects.filter(project__in=p).count(), "
        "'files': File.objects.filter(release__project__in=p).count(), "
        "'roles': Role.objects.filter(project__in=p).count()}))"
    )
    return json.loads(server.shell(code).strip().splitlines()[-1])


def server_errors(server, since: int, uploads: int) -> list[str]:
    """5xx lines among the access-log lines since `since`, once `uploads` POSTs are logged."""
    lines = server.access_lines_since(
        since, lambda lines: sum('"POST /legacy/ ' in line for line in lines) >= uploads
    )
    return [line for line in lines if re.search(r'HTTP/1\.1" 5\d\d ', line)]


def test_distinct_files_to_one_new_project(index_server):
    wheels = []
    for version in ("1.0", "1.1", "1.2", "1.3"):
        for tag in ("py3-none-any", "py311-none-any"):
            filename, content = make_wheel("e2e-race", version, tag=tag)
            wheels.append((version, filename, content))
    since = len(index_server.access_lines())

    responses = upload_at_once(index_server, "e2e-race", wheels)

    assert [r.status_code for r in responses] == [200] * 8, [r.text for r in responses]
    assert server_errors(index_server, since, 8) == []
    assert rows(index_server, "e2e-race") == {"projects": 1, "releases": 4, "files": 8, "roles": 1}
    data = index_server.project_json("e2e-race")
    assert data["ownership"]["roles"] == [{"role": "Owner", "user": index_server.username}]
    assert {v: sorted(f["filename"] for f in files) for v, files in data["releases"].items()} == {
        version: sorted(f for v, f, _ in wheels if v == version)
        for version in ("1.0", "1.1", "1.2", "1.3")
    }
    assert data["info"]["version"] == "1.3"
    simple = index_server.simple_json("e2e-race")
    assert simple["versions"] == ["1.0", "1.1", "1.2", "1.3"]
    assert len(simple["files"]) == 8
    index = index_server.get("/simple/", headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    assert [p["name"] for p in index.json()["projects"]].count("e2e-race") == 1


def test_identical_file_uploaded_at_once(index_server):
    filename, content = make_wheel("e2e-same", "1.0")
    since = len(index_server.access_lines())

    responses = upload_at_once(index_server, "e2e-same", [("1.0", filename, content)] * 4)

    assert [r.status_code for r in responses] == [200] * 4, [r.text for r in responses]
    assert server_errors(index_server, since, 4) == []
    assert rows(index_server, "e2e-same") == {"projects": 1, "releases": 1, "files": 1, "roles": 1}
    (entry,) = index_server.simple_json("e2e-same")["files"]
    assert entry["hashes"]["sha256"] == hashlib.sha256(content).hexdigest()
    assert index_server.http.get(entry["url"], timeout=30).content == content
    key = storage_key(hashlib.blake2b(content, digest_size=32).hexdigest(), filename)
    stored = sorted(p.name for p in (index_server.data_dir / "files" / key).parent.iterdir())
    assert stored == [filename, f"{filename}.metadata"]  # no leftover copies under other names


def test_different_files_under_one_filename_at_once(index_server):
    wheels = []
    for n in range(4):
        filename, content = make_wheel("e2e-clash", "1.0", payload=f"VALUE = {n}\n".encode())
        wheels.append(("1.0", filename, content))
    assert len({filename for _, filename, _ in wheels}) == 1
    assert len({content for _, _, content in wheels}) == 4
    since = len(index_server.access_lines())

    responses = upload_at_once(index_server, "e2e-clash", wheels)

    statuses = [r.status_code for r in responses]
    assert sorted(statuses) == [200, 400, 400, 400], [r.text for r in responses]
    assert server_errors(index_server, since, 4) == []
    for response in responses:
        if response.status_code == 400:
            assert "File already exists" in response.text
    assert rows(index_server, "e2e-clash") == {"projects": 1, "releases": 1, "files": 1, "roles": 1}
    winner = wheels[statuses.index(200)][2]
    (entry,) = index_server.simple_json("e2e-clash")["files"]
    assert entry["hashes"]["sha256"] == hashlib.sha256(winner).hexdigest()
    # The refused uploads left nothing in storage.
    files = index_server.data_dir / "files"
    for _, filename, content in wheels:
        key = storage_key(hashlib.blake2b(content, digest_size=32).hexdigest(), filename)
        assert (files / key).exists() == (content == winner)
        assert (files / f"{key}.metadata").exists() == (content == winner)
