"""Addresses (staff-given ones count as verified), verification links, password change and
reset by mail, PyPI's username rules."""

from __future__ import annotations

import os
import time
import types

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from accounts import emails
from accounts.models import Email
from tests.accounts.conftest import PASSWORD, link_in, log_in, register
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def test_createsuperuser_noinput_address_counts_as_verified(monkeypatch):
    monkeypatch.setitem(os.environ, "DJANGO_SUPERUSER_PASSWORD", "s3cret-enough-pw")
    call_command(
        "createsuperuser", "--noinput", "--username", "root", "--email", "root@example.com"
    )
    email = Email.objects.get(user__username="root")
    assert (email.email, email.primary, email.verified) == ("root@example.com", True, True)
    assert emails.has_verified_primary_email(email.user)


def test_create_user_and_admin_edits_count_as_staff_given(fast_hashes):
    user = make_user("alice")
    assert emails.has_verified_primary_email(user)
    user.email = "new@example.com"
    user.save()
    addresses = dict(Email.objects.filter(user=user).values_list("email", "primary"))
    assert addresses == {"alice@example.com": False, "new@example.com": True}
    assert emails.has_verified_primary_email(user)


def test_registered_address_stays_unverified_across_saves(client, mailoutbox):
    register(client, "alice")
    user = get_user_model().objects.get(username="alice")
    user.save()  # e.g. last_login updates must not verify anything
    assert not emails.has_verified_primary_email(user)


@pytest.mark.parametrize(
    ("username", "error"),
    [
        ("-alice", "The username is invalid."),
        ("al ice", "The username is invalid."),
        ("a" * 51, "Ensure this value has at most 50 characters"),
    ],
)
def test_registration_applies_username_rules(client, username, error):
    response = register(client, username)
    assert response.status_code == 200
    assert error in str(response.context["form"].errors["username"])


def test_registration_refuses_taken_names_and_weak_passwords(client, fast_hashes):
    make_user("Alice")
    response = register(client, "alice")
    assert "This username is already being used by another account." in response.content.decode()
    response = register(client, "bob", email="alice@example.com")
    assert "This email address is already being used" in response.content.decode()
    response = register(client, "carol", password="password")
    assert "This password is too common." in response.content.decode()


@pytest.mark.django_db(transaction=True)
def test_extra_address_verified_then_made_primary(client, mailoutbox):
    register(client, "alice")
    client.get(link_in(mailoutbox[0], "/account/verify-email/"))
    response = client.post("/manage/account/email/add/", {"email": "work@example.com"})
    assert response.status_code == 302
    work = Email.objects.get(email="work@example.com")
    response = client.post(f"/manage/account/email/{work.pk}/primary/")
    assert not Email.objects.get(pk=work.pk).primary  # unverified: refused
    client.get(link_in(mailoutbox[-1], "/account/verify-email/"))
    client.post(f"/manage/account/email/{work.pk}/primary/")
    user = get_user_model().objects.get(username="alice")
    assert user.email == "work@example.com"
    assert emails.primary_email(user).email == "work@example.com"
    old = Email.objects.get(email="alice@example.com")
    client.post(f"/manage/account/email/{work.pk}/delete/")
    assert Email.objects.filter(pk=work.pk).exists()  # the primary stays
    client.post(f"/manage/account/email/{old.pk}/delete/")
    assert not Email.objects.filter(pk=old.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_verification_link_expires(client, mailoutbox, settings, monkeypatch):
    register(client, "alice")
    link = link_in(mailoutbox[0], "/account/verify-email/")
    later = time.time() + settings.EMAIL_TOKEN_MAX_AGE + 1
    monkeypatch.setattr("django.core.signing.time", types.SimpleNamespace(time=lambda: later))
    client.get(link)
    assert not Email.objects.get(email="alice@example.com").verified


def test_password_change_needs_the_current_password(client, fast_hashes, mailoutbox):
    user = make_user("alice")
    user.set_password(PASSWORD)
    user.save()
    log_in(client, "alice")
    data = {
        "new_password": "another long passphrase 7",
        "password_confirm": "another long passphrase 7",
    }
    response = client.post("/manage/account/change-password/", {**data, "password": "wrong"})
    assert response.status_code == 200
    response = client.post("/manage/account/change-password/", {**data, "password": PASSWORD})
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password("another long passphrase 7")
    assert client.get("/manage/account/").status_code == 200  # session kept


def test_password_reset_by_mail_works_once(client, fast_hashes, mailoutbox):
    make_user("alice")
    response = client.post(
        "/account/request-password-reset/", {"username_or_email": "alice@example.com"}
    )
    assert response.status_code == 200
    # Unknown accounts get the same answer and no mail.
    client.post("/account/request-password-reset/", {"username_or_email": "nobody"})
    assert len(mailoutbox) == 1
    link = link_in(mailoutbox[0], "/account/reset-password/")
    assert client.get(link).status_code == 200
    new = {
        "new_password": "a brand new passphrase 9",
        "password_confirm": "a brand new passphrase 9",
    }
    response = client.post(link, new)
    assert response.status_code == 302 and response.url == "/account/login/"
    assert log_in(client, "alice", "a brand new passphrase 9").status_code == 302
    client.post("/account/logout/")
    response = client.get(link)  # used: the password hash changed
    assert response.status_code == 302 and response.url == "/account/request-password-reset/"


def test_mail_is_written_to_files_under_data_dir_by_default(tmp_path):
    """Embedded mode: `make run` users open messages from DATA_DIR/mail."""
    import subprocess
    import sys

    env = {**os.environ, "DATA_DIR": str(tmp_path), "SECRET_KEY": "x"}
    for name in ("EMAIL_URL", "EMAIL_HOST", "DATABASE_URL"):
        env.pop(name, None)
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.EMAIL_BACKEND, settings.EMAIL_FILE_PATH)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**env, "DJANGO_SETTINGS_MODULE": "pypi_site.settings"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert out == ["django.core.mail.backends.filebased.EmailBackend", str(tmp_path / "mail")]
    env["EMAIL_URL"] = "smtp+tls://user:p%40ss@mail.example.com:587"
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.EMAIL_BACKEND, s.EMAIL_HOST, s.EMAIL_PORT, s.EMAIL_HOST_PASSWORD, s.EMAIL_USE_TLS)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**env, "DJANGO_SETTINGS_MODULE": "pypi_site.settings"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert out == [
        "django.core.mail.backends.smtp.EmailBackend",
        "mail.example.com",
        "587",
        "p@ss",
        "True",
    ]
