"""What a person does after `make run`: register on the website, open the verification mail
from DATA_DIR/mail, turn on 2FA, make a token, and publish with real twine to a live gunicorn."""

from __future__ import annotations

import html
import os
import re

import pyotp
import pytest

from tests.dists import make_wheel

# The live-server fixtures come with tests/e2e (maintained there).
helpers = pytest.importorskip("tests.e2e.helpers")
servers = pytest.importorskip("tests.e2e.servers")


def _server_database_reachable() -> bool:
    """The live server gets a fresh database made through DATABASE_URL's own database, which a
    run that only names a test database may not have."""
    if not os.environ.get("DATABASE_URL"):
        return True
    import psycopg2

    try:
        psycopg2.connect(os.environ["DATABASE_URL"]).close()
    except psycopg2.OperationalError:
        return False
    return True


pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not _server_database_reachable(), reason="DATABASE_URL's database is not reachable"
    ),
]

PASSWORD = "a long and memorable passphrase 42"


def post_form(server, path: str, data: dict, *, form_page: str = ""):
    """A form POST as a browser sends it: the CSRF cookie and token from the page first."""
    page = server.http.get(f"{server.url}{form_page or path}", timeout=30)
    assert page.status_code == 200, page.text
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    return server.http.post(
        f"{server.url}{path}", data={"csrfmiddlewaretoken": token, **data}, timeout=30
    )


def test_register_verify_two_factor_token_and_twine_upload(tmp_path):
    with servers.live_server_process(tmp_path, REQUIRE_TWO_FACTOR="1") as server:
        response = post_form(
            server,
            "/account/register/",
            {
                "username": "newcomer",
                "email": "newcomer@example.com",
                "new_password": PASSWORD,
                "password_confirm": PASSWORD,
            },
        )
        assert response.status_code == 200 and response.url.endswith("/manage/account/")

        # The embedded mail backend wrote the message to a file under DATA_DIR/mail.
        (mail,) = (server.data_dir / "mail").iterdir()
        link = re.search(r"(/account/verify-email/\?token=\S+)", mail.read_text()).group(1)
        assert server.http.get(f"{server.url}{link}", timeout=30).status_code == 200

        # 2FA is required by this server's settings: the token page sends us to set it up.
        response = server.http.get(f"{server.url}/manage/account/token/", timeout=30)
        assert response.url.endswith("/manage/account/two-factor/")
        page = server.http.get(f"{server.url}/manage/account/totp-provision", timeout=30)
        secret = re.search(r"Secret: <code>([A-Z2-7]+)</code>", page.text).group(1)
        response = post_form(
            server, "/manage/account/totp-provision", {"totp_value": pyotp.TOTP(secret).now()}
        )
        assert "Your recovery codes" in response.text

        response = post_form(
            server,
            "/manage/account/token/new/",
            {"description": "twine"},
            form_page="/manage/account/token/",
        )
        token = html.unescape(re.search(r"(pypi-[A-Za-z0-9_.-]+)", response.text).group(1))

        filename, content = make_wheel("newcomer-pkg", "1.0")
        wheel = tmp_path / filename
        wheel.write_bytes(content)
        helpers.twine_upload(server.url, token, wheel)
        assert filename in server.get("/simple/newcomer-pkg/").text
