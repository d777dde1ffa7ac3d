"""Real twine against a real server: PEP 740 attestations sent by `twine upload --attestations`
reach the verifier and are refused on a token that is no trusted publisher's, with the public
index's message and nothing stored; and a project its owners archived (PEP 792) refuses
twine's upload and says so in the simple API."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.dists import make_wheel
from tests.e2e.helpers import output, twine_upload

pytestmark = pytest.mark.e2e

ASSETS = Path(__file__).parents[1] / "attestations" / "assets"
DIST = "pypi_attestations-0.0.19.tar.gz"


def unwrapped(result) -> str:
    """twine's output with rich's line wrapping undone."""
    return " ".join(output(result).split())


def test_twine_attestations_need_a_trusted_publisher(index_server, tmp_path):
    dist = tmp_path / DIST
    shutil.copy(ASSETS / DIST, dist)
    attestation = tmp_path / f"{DIST}.publish.attestation"
    shutil.copy(ASSETS / attestation.name, attestation)

    # twine pairs each dist with the `<dist>.<kind>.attestation` files given beside it.
    result = twine_upload(
        index_server.url, index_server.token, "--attestations", dist, attestation, check=False
    )
    assert result.returncode != 0
    assert (
        "Invalid attestations supplied during upload: Attestations are only supported when "
        "using Trusted Publishing" in unwrapped(result)
    )
    assert index_server.http.get(f"{index_server.url}/simple/pypi-attestations/").status_code == 404

    # Without them the same file is an ordinary upload, listed with no provenance.
    twine_upload(index_server.url, index_server.token, dist)
    (entry,) = index_server.simple_json("pypi-attestations")["files"]
    assert entry["filename"] == DIST and entry["provenance"] is None


def test_archived_project_refuses_twine_and_says_so(index_server, tmp_path):
    name = "e2e-archived"
    for version in ("1.0", "2.0"):
        filename, content = make_wheel(name, version)
        (tmp_path / filename).write_bytes(content)
    twine_upload(
        index_server.url, index_server.token, tmp_path / "e2e_archived-1.0-py3-none-any.whl"
    )

    index_server.manage("archive_project", name, "--note", "e2e: superseded")
    result = twine_upload(
        index_server.url,
        index_server.token,
        tmp_path / "e2e_archived-2.0-py3-none-any.whl",
        check=False,
    )
    assert result.returncode != 0
    assert f"isn't allowed to upload to project '{name}'" in unwrapped(result)
    page = index_server.simple_json(name)
    assert page["project-status"] == {"status": "archived", "reason": "e2e: superseded"}
    assert [f["filename"] for f in page["files"]] == ["e2e_archived-1.0-py3-none-any.whl"]

    index_server.manage("archive_project", name, "--unarchive")
    twine_upload(
        index_server.url, index_server.token, tmp_path / "e2e_archived-2.0-py3-none-any.whl"
    )
    assert index_server.simple_json(name)["project-status"] == {"status": "active"}
