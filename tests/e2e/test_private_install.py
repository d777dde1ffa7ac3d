"""Real pip, uv and poetry install a private project with each credential form the README
shows, and without credentials get "not found" (a private project on a public index) or 401 (a
private index), never the content."""

from __future__ import annotations

import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.dists import make_wheel
from tests.e2e.helpers import (
    VENV_BIN,
    clean_env,
    http_session,
    installed,
    make_venv,
    output,
    pip_install,
    post_wheel,
    run,
    uv_pip_install,
)
from tests.e2e.servers import live_server_process

pytestmark = pytest.mark.e2e

NAME = "e2e-hush"
VERSION = "1.2.0"


def _publish_private(server) -> str:
    """Upload NAME as the admin, make it private, and return a read token of another user
    who is a collaborator... scoped to it (the CI case)."""
    filename, content = make_wheel(NAME, VERSION)
    response = post_wheel(
        http_session(),
        server.url,
        server.token,
        name=NAME,
        version=VERSION,
        filename=filename,
        content=content,
    )
    assert response.status_code == 200, response.text
    server.manage("set_project_visibility", NAME, "private", "--actor", "e2e")
    result = server.manage("create_api_token", server.username, "--read-only", "--project", NAME)
    return result.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def private_project(tmp_path_factory):
    with live_server_process(tmp_path_factory.mktemp("private-project")) as server:
        yield server, _publish_private(server)


@pytest.fixture(scope="module")
def private_index(tmp_path_factory):
    root = tmp_path_factory.mktemp("private-index")
    with live_server_process(root, INDEX_READ_ACCESS="authenticated") as server:
        yield server, _publish_private(server)


def with_credentials(url: str, token: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://__token__:{token}@{parts.netloc}/simple/"


def netrc_env(tmp_path: Path, url: str, token: str) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    netrc = home / ".netrc"
    host = urlsplit(url).hostname
    netrc.write_text(f"machine {host}\nlogin __token__\npassword {token}\n")
    netrc.chmod(0o600)
    return clean_env(HOME=str(home), NETRC=str(netrc))


def pip_with_env(python: Path, index_url: str, env: dict[str, str], check: bool = True):
    args = [
        sys.executable, "-m", "pip", "--python", python, "--isolated", "--no-input",
        "--disable-pip-version-check", "install", "--no-cache-dir", "--index-url", index_url,
        NAME,
    ]  # fmt: skip
    return run(args, env=env, check=check)


def uv_named_index(python: Path, url: str, env: dict[str, str], check: bool = True):
    return run(
        [
            VENV_BIN / "uv", "pip", "install", "--no-config", "--no-cache", "--python", python,
            "--default-index", f"hush={url}/simple/", NAME,
        ],
        env=env,
        check=check,
    )  # fmt: skip


def poetry_install(tmp_path: Path, url: str, token: str | None, check: bool = True):
    project = tmp_path / "consumer"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        "[project]\n"
        'name = "consumer"\nversion = "0.1.0"\nrequires-python = ">=3.9"\n'
        f'dependencies = ["{NAME}"]\n\n'
        "[tool.poetry]\npackage-mode = false\n\n"
        '[[tool.poetry.source]]\nname = "hush"\n'
        f'url = "{url}/simple/"\npriority = "primary"\n'
    )
    env = clean_env(
        POETRY_CONFIG_DIR=str(tmp_path / "poetry-config"),
        POETRY_CACHE_DIR=str(tmp_path / "poetry-cache"),
        POETRY_DATA_DIR=str(tmp_path / "poetry-data"),
        POETRY_VIRTUALENVS_IN_PROJECT="true",
        POETRY_KEYRING_ENABLED="false",
        PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring",
    )
    poetry = VENV_BIN / "poetry"
    if token is not None:
        run([poetry, "config", "http-basic.hush", "__token__", token], env=env, cwd=project)
    result = run([poetry, "install", "--no-interaction"], env=env, cwd=project, check=check)
    return result, project / ".venv" / "bin" / "python"


def test_without_credentials_a_private_project_is_not_found(private_project, tmp_path):
    server, _token = private_project
    python = make_venv(tmp_path / "venv")
    pip = pip_install(python, f"{server.url}/simple/", NAME, check=False)
    assert pip.returncode != 0
    assert "No matching distribution found" in output(pip)
    uv = uv_pip_install(python, f"{server.url}/simple/", NAME, check=False)
    assert uv.returncode != 0
    assert "not found" in output(uv).lower()
    assert NAME not in installed(python)


def test_pip_with_credentials_in_the_index_url(private_project, tmp_path):
    server, token = private_project
    python = make_venv(tmp_path / "venv")
    pip_install(python, with_credentials(server.url, token), NAME)
    assert installed(python)[NAME] == VERSION


def test_pip_with_netrc(private_project, tmp_path):
    server, token = private_project
    python = make_venv(tmp_path / "venv")
    pip_with_env(python, f"{server.url}/simple/", netrc_env(tmp_path, server.url, token))
    assert installed(python)[NAME] == VERSION


def test_uv_with_credentials_in_the_index_url(private_project, tmp_path):
    server, token = private_project
    python = make_venv(tmp_path / "venv")
    uv_pip_install(python, with_credentials(server.url, token), NAME)
    assert installed(python)[NAME] == VERSION


def test_uv_with_index_environment_variables(private_project, tmp_path):
    server, token = private_project
    python = make_venv(tmp_path / "venv")
    env = clean_env(UV_INDEX_HUSH_USERNAME="__token__", UV_INDEX_HUSH_PASSWORD=token)
    uv_named_index(python, server.url, env)
    assert installed(python)[NAME] == VERSION


def test_poetry_with_http_basic(private_project, tmp_path):
    server, token = private_project
    result, python = poetry_install(tmp_path, server.url, token)
    assert installed(python)[NAME] == VERSION, output(result)


def test_poetry_without_credentials_finds_nothing(private_project, tmp_path):
    server, _token = private_project
    result, _python = poetry_install(tmp_path, server.url, None, check=False)
    assert result.returncode != 0
    assert NAME in output(result) and "version" in output(result).lower()


def test_a_private_index_answers_401_without_credentials(private_index, tmp_path):
    server, _token = private_index
    response = server.get("/simple/")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic realm=")
    python = make_venv(tmp_path / "venv")
    since = len(server.access_lines())
    pip = pip_install(python, f"{server.url}/simple/", NAME, check=False)
    # pip, with no way to ask for a password (--no-input), says only that nothing matched.
    assert pip.returncode != 0 and "No matching distribution" in output(pip)
    challenged = f'"GET /simple/{NAME}/ HTTP/1.1" 401 '
    lines = server.access_lines_since(since, lambda ls: any(challenged in x for x in ls))
    assert any(challenged in line and '"pip/' in line for line in lines), lines
    uv = uv_pip_install(python, f"{server.url}/simple/", NAME, check=False)
    assert uv.returncode != 0 and "401" in output(uv)
    assert NAME not in installed(python)


def test_a_private_index_installs_with_each_credential_form(private_index, tmp_path):
    server, token = private_index
    forms = {
        "pip url": lambda py: pip_install(py, with_credentials(server.url, token), NAME),
        "pip netrc": lambda py: pip_with_env(
            py, f"{server.url}/simple/", netrc_env(tmp_path, server.url, token)
        ),
        "uv url": lambda py: uv_pip_install(py, with_credentials(server.url, token), NAME),
        "uv env": lambda py: uv_named_index(
            py,
            server.url,
            clean_env(UV_INDEX_HUSH_USERNAME="__token__", UV_INDEX_HUSH_PASSWORD=token),
        ),
    }
    for label, install in forms.items():
        python = make_venv(tmp_path / label.replace(" ", "-"))
        install(python)
        assert installed(python)[NAME] == VERSION, label
    result, python = poetry_install(tmp_path, server.url, token)
    assert installed(python)[NAME] == VERSION, output(result)
