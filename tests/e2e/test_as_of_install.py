"""The point-in-time view with real pip and uv: `--index-url <index>/as-of/<moment>/simple/`
resolves as the index did at that moment, whatever was uploaded, yanked or deleted since."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.dists import make_wheel
from tests.e2e.helpers import installed, make_venv, output, pip_install, post_wheel, uv_pip_install

pytestmark = pytest.mark.e2e

NAME = "e2e-as-of"
GONE = "e2e-as-of-gone"


def moment() -> str:
    """Now, as the URL spells it; the server shares this machine's clock."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def upload(server, name: str, version: str) -> str:
    filename, content = make_wheel(name, version)
    response = post_wheel(
        server.http,
        server.url,
        server.token,
        name=name,
        version=version,
        filename=filename,
        content=content,
    )
    assert response.status_code == 200, response.text
    return filename


def versions_installed(tmp_path, index_url: str, requirement: str) -> dict[str, str | None]:
    """What pip and uv each install from `index_url` alone (None: the install failed)."""
    found: dict[str, str | None] = {}
    for tool, install in (("pip", pip_install), ("uv", uv_pip_install)):
        python = make_venv(tmp_path / f"{tool}-{len(list(tmp_path.iterdir()))}")
        result = install(python, index_url, requirement, check=False)
        if result.returncode == 0:
            found[tool] = installed(python)[requirement]
        else:
            assert requirement in output(result), output(result)  # refused, not crashed
            found[tool] = None
    return found


def test_installs_at_a_moment_ignore_later_releases_and_yanks(index_server, tmp_path):
    upload(index_server, NAME, "1.0")
    before_two = moment()
    upload(index_server, NAME, "2.0")
    before_yank = moment()
    index_server.manage("yank_release", NAME, "2.0", "e2e: broken")

    live = f"{index_server.url}/simple/"
    # Live: 2.0 is yanked, so both installers take 1.0.
    assert versions_installed(tmp_path, live, NAME) == {"pip": "1.0", "uv": "1.0"}
    # Before 2.0 was uploaded: it does not exist there.
    at_one = f"{index_server.url}/as-of/{before_two}/simple/"
    assert versions_installed(tmp_path, at_one, NAME) == {"pip": "1.0", "uv": "1.0"}
    # After its upload, before its yank: the yank recorded later is not applied.
    at_two = f"{index_server.url}/as-of/{before_yank}/simple/"
    assert versions_installed(tmp_path, at_two, NAME) == {"pip": "2.0", "uv": "2.0"}


def test_a_file_deleted_later_installs_at_an_earlier_moment_only(index_server, tmp_path):
    filename = upload(index_server, GONE, "1.0")
    before_delete = moment()
    index_server.shell(
        "from packages.models import File; from packages.releases import delete_file; "
        f"delete_file(file=File.objects.get(filename={filename!r}))"
    )

    live = f"{index_server.url}/simple/"
    assert versions_installed(tmp_path, live, GONE) == {"pip": None, "uv": None}
    at = f"{index_server.url}/as-of/{before_delete}/simple/"
    assert versions_installed(tmp_path, at, GONE) == {"pip": "1.0", "uv": "1.0"}
    # The bytes came from the as-of URL; the live one stays 404.
    (entry,) = index_server.http.get(
        f"{at}{GONE}/", headers={"Accept": "application/vnd.pypi.simple.v1+json"}, timeout=30
    ).json()["files"]
    assert entry["url"].startswith(f"{index_server.url}/as-of/{before_delete}/packages/")
    live_url = entry["url"].replace(f"/as-of/{before_delete}", "")
    assert index_server.http.get(live_url, timeout=30).status_code == 404
