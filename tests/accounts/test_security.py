"""Hardening: CSRF on every form, CSP and framing headers, codes never accepted twice,
re-authentication for sensitive actions, frozen users kept out."""

from __future__ import annotations

import time
import types

import pyotp
import pytest
from django.test import Client

from accounts import twofactor
from accounts.freezing import freeze_user
from accounts.models import Account
from tests.accounts.conftest import PASSWORD, log_in, totp_code
from tests.factories import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(fast_hashes):
    user = make_user("alice")
    user.set_password(PASSWORD)
    user.save()
    return user


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/account/login/", {"username": "alice", "password": PASSWORD}),
        ("/account/register/", {"username": "x", "email": "x@example.com"}),
        ("/account/request-password-reset/", {"username_or_email": "alice"}),
        ("/account/logout/", {}),
        ("/manage/account/token/new/", {"description": "ci"}),
        ("/manage/account/email/add/", {"email": "new@example.com"}),
        ("/manage/project/demo/collaboration/", {"username": "bob", "role_name": "Owner"}),
    ],
)
def test_posts_without_csrf_token_are_refused(alice, path, data):
    client = Client(enforce_csrf_checks=True)
    if not path.startswith("/account/login/"):
        client.force_login(alice)
    response = client.post(path, data)
    assert response.status_code == 403
    assert b"CSRF" in response.content


def test_login_with_csrf_token_works(alice):
    client = Client(enforce_csrf_checks=True)
    page = client.get("/account/login/")
    token = page.cookies["csrftoken"].value
    response = client.post(
        "/account/login/", {"username": "alice", "password": PASSWORD, "csrfmiddlewaretoken": token}
    )
    assert response.status_code == 302


def test_pages_send_strict_security_headers(client):
    response = client.get("/account/login/")
    policy = response["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_session_and_csrf_cookies_are_httponly_and_secure_when_asked(client, alice, settings):
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = True
    response = log_in(client, "alice")
    session = response.cookies["sessionid"]
    assert session["httponly"] and session["secure"]
    page = client.get("/account/register/")
    csrf = page.cookies.get("csrftoken") or client.cookies["csrftoken"]
    assert csrf["httponly"]


def test_debug_is_off_unless_asked(settings):
    assert settings.DEBUG is False


def test_totp_code_is_never_accepted_twice(alice):
    secret = pyotp.random_base32()
    twofactor.enable_totp(user=alice, secret=secret, code=totp_code(secret))
    # The code that enabled TOTP is used up; so is the next one once accepted.
    assert not twofactor.verify_totp(user=alice, code=totp_code(secret))
    later = totp_code(secret, steps_ahead=1)
    assert twofactor.verify_totp(user=alice, code=later)
    assert not twofactor.verify_totp(user=alice, code=later)
    assert not twofactor.verify_totp(user=alice, code=totp_code(secret, steps_ahead=5))


def test_recovery_codes_are_stored_hashed_and_work_once(alice):
    secret = pyotp.random_base32()
    codes = twofactor.enable_totp(user=alice, secret=secret, code=totp_code(secret))
    stored = list(alice.recovery_codes.values_list("code_hash", flat=True))
    assert len(stored) == 8 and not set(codes) & set(stored)
    assert twofactor.use_recovery_code(user=alice, code=codes[3])
    assert not twofactor.use_recovery_code(user=alice, code=codes[3])
    assert twofactor.unused_recovery_codes(alice) == 7


def test_sensitive_pages_ask_for_the_password_again_after_the_grace_period(
    client, alice, settings, monkeypatch
):
    log_in(client, "alice")
    assert client.get("/manage/account/totp-provision").status_code == 200
    later = time.time() + settings.REAUTH_GRACE_SECONDS + 1
    monkeypatch.setattr("accounts.login.time", types.SimpleNamespace(time=lambda: later))
    response = client.get("/manage/account/totp-provision")
    assert response.status_code == 302
    assert response.url == "/account/reauthenticate/?next=%2Fmanage%2Faccount%2Ftotp-provision"
    wrong = client.post("/account/reauthenticate/", {"password": "nope", "next": "/x/"})
    assert wrong.status_code == 200
    response = client.post(
        "/account/reauthenticate/",
        {"password": PASSWORD, "next": "/manage/account/totp-provision"},
    )
    assert response.status_code == 302 and response.url == "/manage/account/totp-provision"
    assert client.get("/manage/account/totp-provision").status_code == 200
    assert alice.events.filter(tag="account:reauthenticate").exists()


def test_token_creation_needs_reauthentication(client, alice, settings, monkeypatch):
    log_in(client, "alice")
    later = time.time() + settings.REAUTH_GRACE_SECONDS + 1
    monkeypatch.setattr("accounts.login.time", types.SimpleNamespace(time=lambda: later))
    response = client.post("/manage/account/token/new/", {"description": "ci"})
    assert response.status_code == 302
    assert response.url.startswith("/account/reauthenticate/")
    assert not alice.api_tokens.exists()


def test_frozen_user_cannot_log_in(client, alice):
    freeze_user(user=alice, reason="spam")
    response = log_in(client, "alice")
    assert response.status_code == 200
    assert "This account is frozen." in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_login_with_two_factor_does_not_log_in_before_the_code(client, alice):
    Account.objects.create(user=alice, totp_secret=pyotp.random_base32())
    response = log_in(client, "alice")
    assert response.url.startswith("/account/two-factor/")
    assert "_auth_user_id" not in client.session
    assert client.get("/manage/account/").status_code == 302


def test_login_next_must_stay_on_this_site(client, alice):
    response = log_in(client, "alice", next_url="https://evil.example/")
    assert response.url == "/manage/account/"


def test_usernames_are_case_insensitive_at_login(client, alice):
    assert log_in(client, "ALICE").status_code == 302
