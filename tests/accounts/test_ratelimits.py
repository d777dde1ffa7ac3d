"""Abuse limits answer 429 with Retry-After, and lift once their window has passed."""

from __future__ import annotations

import time
import types

import pyotp
import pytest

from accounts.models import Account
from tests.accounts.conftest import PASSWORD, log_in, register
from tests.factories import make_token, make_user, post_upload, wheel_upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def clock(monkeypatch):
    """Moves the rate limiter's clock (only its own) forward."""
    offset = {"seconds": 0.0}
    fake = types.SimpleNamespace(time=lambda: time.time() + offset["seconds"])
    monkeypatch.setattr("accounts.ratelimits.time", fake)

    def advance(seconds: float) -> None:
        offset["seconds"] += seconds

    return advance


@pytest.fixture
def alice(fast_hashes):
    user = make_user("alice")
    user.set_password(PASSWORD)
    user.save()
    return user


def assert_429(response) -> int:
    assert response.status_code == 429, response.content
    retry_after = int(response["Retry-After"])
    assert 0 < retry_after <= 300
    return retry_after


def test_ten_failed_logins_per_user_then_429_then_recovery(client, alice, clock):
    for _ in range(10):
        response = log_in(client, "alice", "wrong")
        assert response.status_code == 200
        assert "The username or password is not right." in response.content.decode()
    # Even the right password waits now.
    assert_429(log_in(client, "alice"))
    assert alice.events.filter(tag="account:login:failure").count() == 10
    clock(301)
    response = log_in(client, "alice")
    assert response.status_code == 302


def test_failed_logins_are_counted_per_ip_across_usernames(client, alice, clock):
    for i in range(10):
        assert log_in(client, f"nobody{i}", "wrong").status_code == 200
    assert_429(log_in(client, "alice"))
    # Another address is not affected.
    assert log_in(client, "alice", PASSWORD).status_code == 429
    response = client.post(
        "/account/login/", {"username": "alice", "password": PASSWORD}, REMOTE_ADDR="10.1.2.3"
    )
    assert response.status_code == 302


def test_two_factor_attempts_are_limited(client, alice, clock):
    Account.objects.create(user=alice, totp_secret=pyotp.random_base32())
    assert log_in(client, "alice").url.startswith("/account/two-factor/")
    for _ in range(5):
        response = client.post("/account/two-factor/", {"totp_value": "000000"})
        assert "Invalid TOTP code." in response.content.decode()
    assert_429(client.post("/account/two-factor/", {"totp_value": "000000"}))
    clock(301)
    response = client.post("/account/two-factor/", {"totp_value": "000000"})
    assert response.status_code == 200


def request_reset(client, identifier: str, ip: str = "127.0.0.1"):
    return client.post(
        "/account/request-password-reset/", {"username_or_email": identifier}, REMOTE_ADDR=ip
    )


def test_password_reset_mails_per_account_stop_silently(client, alice, clock, mailoutbox):
    for _ in range(5):
        assert request_reset(client, "alice").status_code == 200
    assert len(mailoutbox) == 5
    # The sixth gets the same page as any request, with no mail: nothing tells an
    # attacker whether the account exists.
    sixth = request_reset(client, "alice")
    unknown = request_reset(client, "nobody-here")
    assert sixth.status_code == unknown.status_code == 200
    assert sixth.content == unknown.content
    assert len(mailoutbox) == 5
    clock(86401)
    assert request_reset(client, "alice").status_code == 200
    assert len(mailoutbox) == 6


def test_a_strangers_reset_requests_do_not_lock_out_the_owner(client, alice, clock, mailoutbox):
    for _ in range(5):
        request_reset(client, "alice", ip="203.0.113.9")
    assert len(mailoutbox) == 5

    assert request_reset(client, "alice", ip="198.51.100.7").status_code == 200
    assert len(mailoutbox) == 6


def test_password_reset_per_ip_limit_is_the_same_for_every_name(client, alice, clock):
    for i in range(20):
        name = "alice" if i % 2 else f"nobody{i}"
        assert request_reset(client, name).status_code == 200
    for name in ("alice", "nobody-else"):
        response = request_reset(client, name)
        assert response.status_code == 429
        assert 0 < int(response["Retry-After"]) <= 3600


def test_registrations_per_ip_are_limited(client, settings, clock, fast_hashes):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "register_ip": "2/3600"}
    assert register(client, "one").status_code == 302
    client.post("/account/logout/")
    assert register(client, "two").status_code == 302
    client.post("/account/logout/")
    response = register(client, "three")
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 3600
    clock(3601)
    assert register(client, "three").status_code == 302


def test_project_creation_is_limited_per_user(
    client, settings, clock, alice, django_capture_on_commit_callbacks
):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "project_create_user": "2/3600"}
    token = make_token(alice)
    for name in ("one", "two"):
        # A creation is counted when its transaction commits.
        with django_capture_on_commit_callbacks(execute=True):
            assert post_upload(client, wheel_upload(name, "1.0"), token).status_code == 200
    response = post_upload(client, wheel_upload("three", "1.0"), token)
    assert response.status_code == 429
    assert response.reason_phrase == "Too many new projects created"
    assert 0 < int(response["Retry-After"]) <= 3600
    # New releases of existing projects are not project creations.
    assert post_upload(client, wheel_upload("one", "2.0"), token).status_code == 200
    clock(3601)
    assert post_upload(client, wheel_upload("three", "1.0"), token).status_code == 200


def test_project_creation_is_limited_per_ip(
    client, settings, clock, alice, django_capture_on_commit_callbacks
):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "project_create_ip": "1/3600"}
    with django_capture_on_commit_callbacks(execute=True):
        assert post_upload(client, wheel_upload("one", "1.0"), make_token(alice)).status_code == 200
    # Another user from the same address.
    bob_token = make_token(make_user("bob"))
    response = post_upload(client, wheel_upload("two", "1.0"), bob_token)
    assert response.status_code == 429
    assert response.reason_phrase == "Too many new projects created"
