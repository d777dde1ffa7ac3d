"""Helpers for the account tests: TOTP codes, logging in through the pages, reading mail."""

from __future__ import annotations

import re
import time

import pyotp
import pytest

PASSWORD = "correct horse battery staple 42"


def totp_code(secret: str, *, steps_ahead: int = 0) -> str:
    """The code an authenticator app shows now (or `steps_ahead` 30-second steps later)."""
    return pyotp.TOTP(secret).at(time.time() + 30 * steps_ahead)


def link_in(message, path: str) -> str:
    """The site-relative link to `path` in a mail (what a user clicks)."""
    match = re.search(rf"http://testserver({re.escape(path)}\S*)", message.body)
    assert match, message.body
    return match.group(1)


def log_in(client, username: str, password: str = PASSWORD, *, next_url: str = ""):
    data = {"username": username, "password": password}
    if next_url:
        data["next"] = next_url
    return client.post("/account/login/", data)


def register(client, username: str, email: str | None = None, password: str = PASSWORD):
    return client.post(
        "/account/register/",
        {
            "username": username,
            "email": email or f"{username}@example.com",
            "new_password": password,
            "password_confirm": password,
        },
    )


@pytest.fixture
def fast_hashes(settings):
    """MD5 instead of Argon2 where a test makes many users; Argon2 is tested on its own."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
