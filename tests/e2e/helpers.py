"""Plain helpers for the end-to-end tests: subprocesses with a scrubbed environment, and uploads
POSTed as twine sends them (the wheels and the form come from tests/dists.py).

Nothing here imports Django: these tests talk to a separate server process over HTTP.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import requests

from tests.dists import make_wheel, upload_files, upload_form

REPO = Path(__file__).resolve().parents[2]
PROJECTS = Path(__file__).resolve().parent / "projects"
# The venv that runs pytest; its bin holds gunicorn, twine, uv and moto_server.
VENV_BIN = Path(sys.executable).parent

# Variables that would let an installer or uploader look anywhere but the server under test
# (this machine's pip config adds find-links and extra indexes, for instance).
_SCRUBBED_PREFIXES = ("PIP_", "UV_", "TWINE_")
_SCRUBBED_NAMES = {
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "no_proxy",
    "pythonpath",
    "virtual_env",
    "conda_prefix",
}


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without PIP_*, UV_*, TWINE_*, proxies or PYTHONPATH, with
    pip's configuration files switched off and this venv's bin first on PATH."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.upper().startswith(_SCRUBBED_PREFIXES) and key.lower() not in _SCRUBBED_NAMES
    }
    env["PIP_CONFIG_FILE"] = os.devnull  # pip: load no configuration file at all
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return env


def run(
    args: list[str | Path],
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    check: bool = True,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """Run a command; with check, fail the test showing its whole output."""
    result = subprocess.run(
        [str(a) for a in args],
        env=env if env is not None else clean_env(),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check and result.returncode != 0:
        raise AssertionError(describe(result))
    return result


def describe(result: subprocess.CompletedProcess[str]) -> str:
    return (
        f"$ {' '.join(result.args)}\nexit status {result.returncode}\n"
        f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    )


def output(result: subprocess.CompletedProcess[str]) -> str:
    return result.stdout + result.stderr


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_session() -> requests.Session:
    """A session that ignores proxy variables and netrc: the server is on loopback."""
    session = requests.Session()
    session.trust_env = False
    return session


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def post_wheel(
    session: requests.Session,
    url: str,
    token: str,
    *,
    name: str,
    version: str,
    filename: str,
    content: bytes,
) -> requests.Response:
    return session.post(
        f"{url}/legacy/",
        data=upload_form(name=name, version=version, content=content),
        files=upload_files(filename, content),
        auth=("__token__", token),
        timeout=60,
    )


def login(session: requests.Session, url: str, *, username: str, password: str) -> int:
    """Log in through the website's form as a browser does; returns the POST's status."""
    page = session.get(f"{url}/account/login/", timeout=30)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    response = session.post(
        f"{url}/account/login/",
        data={"csrfmiddlewaretoken": token, "username": username, "password": password},
        headers={"Referer": f"{url}/account/login/"},
        allow_redirects=False,
        timeout=30,
    )
    return response.status_code


def storage_key(blake2_256: str, filename: str) -> str:
    """Where a file lives, in the bucket and under /packages/."""
    return f"{blake2_256[:2]}/{blake2_256[2:4]}/{blake2_256[4:]}/{filename}"


def twine_upload(url: str, token: str, *files: Path, check: bool = True):
    return run(
        [
            VENV_BIN / "twine",
            "upload",
            "--non-interactive",
            "--disable-progress-bar",
            "--repository-url",
            f"{url}/legacy/",
            "-u",
            "__token__",
            "-p",
            token,
            *files,
        ],
        check=check,
    )


def uv_publish(url: str, token: str, *files: Path, check: bool = True):
    return run(
        [
            VENV_BIN / "uv",
            "publish",
            "--no-config",
            "--trusted-publishing",
            "never",
            "--publish-url",
            f"{url}/legacy/",
            "--token",
            token,
            *files,
        ],
        check=check,
    )


def make_venv(path: Path) -> Path:
    """A fresh, empty venv (no pip inside: pip runs from this venv with --python); returns its
    interpreter."""
    run([sys.executable, "-m", "venv", "--without-pip", path])
    return path / "bin" / "python"


def pip_install(
    python: Path, index_url: str, *requirements: str, report: Path | None = None, check=True
):
    """`pip install` into `python`'s venv from `index_url` alone."""
    args: list[str | Path] = [
        sys.executable,
        "-m",
        "pip",
        "--python",
        python,
        "--isolated",
        "--no-input",
        "--disable-pip-version-check",
        "install",
        "--no-cache-dir",
        "--index-url",
        index_url,
    ]
    if report is not None:
        args += ["--report", report]
    return run([*args, *requirements], check=check)


def uv_pip_install(python: Path, index_url: str, *requirements: str, check=True):
    return run(
        [
            VENV_BIN / "uv",
            "pip",
            "install",
            "--no-config",
            "--no-cache",
            "--python",
            python,
            "--index-url",
            index_url,
            *requirements,
        ],
        check=check,
    )


def installed(python: Path) -> dict[str, str]:
    """{normalized name: version} of what is installed in `python`'s venv."""
    code = (
        "import importlib.metadata as m, json; "
        "print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))"
    )
    result = run([python, "-c", code])
    return {normalize(k): v for k, v in json.loads(result.stdout).items()}


def upload_with_description(server, name: str, version: str, description: str) -> None:
    """Upload a small wheel with a (long) plain-text description: a large JSON API document."""
    filename, content = make_wheel(name, version)
    form = {
        **upload_form(name=name, version=version, content=content),
        "description": description,
        "description_content_type": "text/plain",
    }
    response = http_session().post(
        f"{server.url}/legacy/",
        data=form,
        files=upload_files(filename, content),
        auth=("__token__", server.token),
        timeout=60,
    )
    assert response.status_code == 200, response.text
