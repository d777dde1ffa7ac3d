"""Absolute URLs come from SITE_URL, never from the request's Host header."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.accounts.conftest import PASSWORD
from tests.factories import make_token, make_user, post_upload, wheel_upload

pytestmark = pytest.mark.django_db

FORGED = "attacker.example"


@pytest.fixture
def any_host(settings):
    """An operator who let every Host through must still not have links follow it."""
    settings.ALLOWED_HOSTS = ["*"]
    settings.SITE_URL = "https://index.example.org"
    settings.FILES_BASE_URL = "https://index.example.org/packages/"


def test_password_reset_mail_ignores_a_forged_host(client, any_host, mailoutbox):
    user = make_user("alice")
    user.set_password(PASSWORD)
    user.save()

    client.post(
        "/account/request-password-reset/",
        {"username_or_email": "alice"},
        HTTP_HOST=FORGED,
        HTTP_X_FORWARDED_HOST=FORGED,
    )

    assert len(mailoutbox) == 1
    body = mailoutbox[0].body
    assert "https://index.example.org/account/reset-password/?token=" in body
    assert FORGED not in body


def test_registration_mail_ignores_a_forged_host(
    client, any_host, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            "/account/register/",
            {
                "username": "bob",
                "email": "bob@example.com",
                "new_password": PASSWORD,
                "password_confirm": PASSWORD,
            },
            HTTP_HOST=FORGED,
        )

    assert len(mailoutbox) == 1
    assert "https://index.example.org/account/verify-email/?token=" in mailoutbox[0].body
    assert FORGED not in mailoutbox[0].body


def test_simple_and_json_file_urls_ignore_a_forged_host(client, any_host):
    alice = make_user("alice")
    assert post_upload(client, wheel_upload("demo", "1.0"), make_token(alice)).status_code == 200

    for path, accept in [
        ("/simple/demo/", "text/html"),
        ("/simple/demo/", "application/vnd.pypi.simple.v1+json"),
        ("/pypi/demo/json", "application/json"),
    ]:
        # Twice: the first request may fill the page cache, the second must not reuse a
        # forged host either.
        for host in (FORGED, "index.example.org"):
            body = client.get(path, HTTP_HOST=host, HTTP_ACCEPT=accept).content.decode()
            assert "https://index.example.org/packages/" in body, (path, accept)
            assert FORGED not in body, (path, accept)


def _settings_in_subprocess(**environ: str) -> subprocess.CompletedProcess[str]:
    # Only what the test gives decides the mode: not the DATABASE_URL CI runs the suite with.
    unset = {"SITE_URL", "ALLOWED_HOSTS", "DATABASE_URL", "REDIS_URL", "HOST", "PORT"}
    env = {k: v for k, v in os.environ.items() if k not in unset}
    env.update(environ)
    code = (
        "import django; from django.conf import settings; django.setup(); "
        "print(settings.SITE_URL); print(','.join(settings.ALLOWED_HOSTS))"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**env, "DJANGO_SETTINGS_MODULE": "pypi_site.settings", "SECRET_KEY": "x"},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_refuses_to_start_without_a_site_url_or_hosts():
    result = _settings_in_subprocess(DATABASE_URL="postgres://nobody@127.0.0.1:1/none")
    assert result.returncode != 0
    assert "Set SITE_URL" in result.stderr


def test_production_derives_each_from_the_other():
    db = "postgres://nobody@127.0.0.1:1/none"
    hosts = _settings_in_subprocess(DATABASE_URL=db, ALLOWED_HOSTS="pkgs.example.com")
    assert hosts.stdout.split() == ["http://pkgs.example.com", "pkgs.example.com"]
    site = _settings_in_subprocess(DATABASE_URL=db, SITE_URL="https://pkgs.example.com/")
    assert site.stdout.split() == ["https://pkgs.example.com", "pkgs.example.com"]


def test_embedded_default_serves_loopback_without_settings(tmp_path):
    env = {"DATA_DIR": str(tmp_path), "PORT": "8123"}
    result = _settings_in_subprocess(**env)
    site_url, hosts = result.stdout.split()
    assert site_url == "http://127.0.0.1:8123"
    assert {"127.0.0.1", "localhost"} <= set(hosts.split(","))


def test_feeds_link_to_the_site_url_whatever_the_host(client, any_host):
    alice = make_user("alice")
    assert post_upload(client, wheel_upload("demo", "1.0"), make_token(alice)).status_code == 200

    for path in ("/rss/updates.xml", "/rss/packages.xml", "/rss/project/demo/releases.xml"):
        body = client.get(path, HTTP_HOST=FORGED).content.decode()
        assert "https://index.example.org/project/demo/" in body, path
        assert FORGED not in body, path
