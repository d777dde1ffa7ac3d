"""A real `devpi-export` directory, made by running devpi-server: init, serve, create users and
indexes with devpi's HTTP API, upload with twine, stop, export. The test of import_devpi
against a live devpi uses it, and so was the checked-in fixture `tests/backups/devpi-export/`
made (regenerate it with `python -m tests.backups.devpi_export BIN_DIR OUT_DIR`, BIN_DIR holding
devpi-init, devpi-server and devpi-export from `pip install devpi-server==6.20.3` in a venv of
its own).

Nothing here imports Django: devpi runs in its own processes and venv.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from tests.dists import make_sdist, make_wheel, metadata_text
from tests.e2e.helpers import VENV_BIN, clean_env, free_port, run

# Users, their passwords and what they upload; import_devpi's tests check these.
PASSWORDS = {"root": "root-secret", "alice": "alice-secret", "bob": "bob-secret"}
EMAILS = {"alice": "alice@example.com", "bob": "bob@example.com"}
SUMMARY = "A demo package exported from devpi"
REQUIRES_PYTHON = ">=3.8"


def devpi_bin() -> Path | None:
    """The folder holding devpi-server's commands: DEVPI_SERVER_BIN, or beside this Python."""
    for folder in filter(None, [os.environ.get("DEVPI_SERVER_BIN"), str(VENV_BIN)]):
        if (Path(folder) / "devpi-export").exists():
            return Path(folder)
    return None


def _dists(folder: Path) -> dict[str, list[Path]]:
    """The files each index gets: alice/dev has demo-pkg 1.0 (wheel and sdist) and 1.1
    (wheel); bob/tools has bob-tool 0.1 (wheel)."""
    extra = f"Summary: {SUMMARY}\nRequires-Python: {REQUIRES_PYTHON}\n"
    built = {
        "alice/dev": [
            make_wheel("demo-pkg", "1.0", metadata=metadata_text("demo-pkg", "1.0", extra)),
            make_sdist("demo-pkg", "1.0"),
            make_wheel("demo-pkg", "1.1", metadata=metadata_text("demo-pkg", "1.1", extra)),
        ],
        "bob/tools": [make_wheel("bob-tool", "0.1")],
    }
    paths: dict[str, list[Path]] = {}
    for index, files in built.items():
        paths[index] = []
        for filename, content in files:
            path = folder / index.replace("/", "-") / filename
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
            paths[index].append(path)
    return paths


def make_export(bin_dir: Path, out: Path) -> None:
    """Run devpi-server from `bin_dir` in a temporary server directory and export to `out`."""
    with tempfile.TemporaryDirectory(prefix="devpi-") as scratch:
        server_dir, env = Path(scratch) / "server", clean_env()
        run([bin_dir / "devpi-init", "--serverdir", server_dir, "--no-root-pypi",
             "--root-passwd", PASSWORDS["root"]], env=env, timeout=120)  # fmt: skip
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [
                bin_dir / "devpi-server",
                "--serverdir",
                server_dir,
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],  # fmt: skip
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _wait(url)
            _populate(url, Path(scratch))
        finally:
            server.terminate()
            server.wait(timeout=30)
        run([bin_dir / "devpi-export", "--serverdir", server_dir, out], env=env, timeout=120)


def _wait(url: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/+api", timeout=2).ok:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"devpi-server did not answer at {url}")


def _auth(url: str, user: str) -> dict[str, str]:
    """devpi's login: POST /+login gives a pseudo-password for the X-Devpi-Auth header."""
    response = requests.post(
        f"{url}/+login",
        json={"user": user, "password": PASSWORDS[user]},
        headers={"Accept": "application/json"},
        timeout=30,
    )
    response.raise_for_status()
    password = response.json()["result"]["password"]
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"X-Devpi-Auth": token, "Accept": "application/json"}


def _populate(url: str, scratch: Path) -> None:
    for user in ("alice", "bob"):
        response = requests.put(
            f"{url}/{user}",
            json={"password": PASSWORDS[user], "email": EMAILS[user]},
            headers={"Accept": "application/json"},
            timeout=30,
        )
        response.raise_for_status()
    # alice/dev lets bob upload too: the import makes him a maintainer of its projects.
    indexes = {"alice/dev": ["alice", "bob"], "bob/tools": ["bob"]}
    for index, acl_upload in indexes.items():
        user = index.split("/")[0]
        response = requests.put(
            f"{url}/{index}",
            json={"type": "stage", "bases": [], "acl_upload": acl_upload, "volatile": True},
            headers=_auth(url, user),
            timeout=30,
        )
        response.raise_for_status()
    for index, paths in _dists(scratch / "dists").items():
        user = index.split("/")[0]
        run([VENV_BIN / "twine", "upload", "--disable-progress-bar", "--non-interactive",
             "--repository-url", f"{url}/{index}/", "-u", user, "-p", PASSWORDS[user],
             *paths], env=clean_env(), timeout=120)  # fmt: skip


if __name__ == "__main__":
    bin_dir, out = Path(sys.argv[1]), Path(sys.argv[2])
    if out.exists():
        shutil.rmtree(out)
    make_export(bin_dir, out)
    print(f"exported to {out}")
