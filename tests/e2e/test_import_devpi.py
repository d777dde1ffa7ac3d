"""Moving in from devpi: `manage.py import_devpi` into a live server, then pip installs what it
imported from the server's /simple/ alone.

Two sources: the checked-in export (tests/backups/devpi-export/, written by devpi-server 6.20.3),
always; and an export made now by a real devpi-server (tests/backups/devpi_export.py), when its
commands are found in DEVPI_SERVER_BIN or beside this Python (`make test` installs
devpi-server==6.20.3 into test-artifacts/devpi-venv and points DEVPI_SERVER_BIN there), else that
test skips saying so.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.backups.devpi_export import PASSWORDS, devpi_bin, make_export
from tests.e2e.helpers import installed, make_venv, pip_install
from tests.e2e.servers import live_server_process

pytestmark = pytest.mark.e2e

FIXTURE = Path(__file__).resolve().parents[1] / "backups" / "devpi-export"


def import_and_install(export: Path, root: Path) -> None:
    with live_server_process(root / "server") as server:
        out = server.manage("import_devpi", str(export)).stdout
        assert "2 projects with 4 new files" in out, out

        python = make_venv(root / "venv")
        pip_install(python, f"{server.url}/simple/", "demo-pkg", "bob-tool")
        assert installed(python)["demo-pkg"] == "1.1"
        assert installed(python)["bob-tool"] == "0.1"

        # devpi's password is alice's password here.
        checked = server.shell(
            "from django.contrib.auth import get_user_model; "
            f"print(get_user_model().objects.get(username='alice').check_password({PASSWORDS['alice']!r}))"
        )
        assert checked.strip().splitlines()[-1] == "True"
        assert server.project_json("demo-pkg")["info"]["requires_python"] == ">=3.8"


def test_pip_installs_what_import_devpi_brought_from_the_checked_in_export(tmp_path):
    import_and_install(FIXTURE, tmp_path)


def test_pip_installs_what_import_devpi_brought_from_a_devpi_server_run_now(tmp_path):
    bin_dir = devpi_bin()
    if bin_dir is None:
        pytest.skip(
            "devpi-server not installed: set DEVPI_SERVER_BIN to the bin/ of a venv with "
            "devpi-server==6.20.3 (kept out of the project's venv)"
        )
    export = tmp_path / "devpi-export"
    make_export(bin_dir, export)
    import_and_install(export, tmp_path)
