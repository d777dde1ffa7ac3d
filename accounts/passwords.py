"""Changing a password, and resetting a forgotten one through a signed, expiring link.

The reset token wraps Django's PasswordResetTokenGenerator, which is tied to the password hash
and last login, so a link dies once it has been used or the user has logged in since.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.auth.tokens import default_token_generator
from django.core import signing
from django.db import transaction

from accounts import ratelimits
from accounts.emails import primary_email
from accounts.events import record_user_event
from accounts.freezing import is_frozen
from accounts.login import find_user
from accounts.mail import send_templated_mail
from accounts.models import Email, UserEvent

RESET_SALT = "accounts.passwords.reset"


class PasswordResetError(Exception):
    pass


def _user_for(identifier: str) -> AbstractBaseUser | None:
    """By username, or by any of the user's verified addresses."""
    user = find_user(identifier)
    if user is None and "@" in identifier:
        email = Email.objects.filter(email__iexact=identifier.strip(), verified=True).first()
        user = email.user if email else None
    return user


def request_password_reset(*, identifier: str, ip_address: str | None) -> None:
    """Mail a reset link to the account's primary address.

    The answer must not tell whether the account exists, so the only limit that answers 429 is
    the per-IP one, which counts every request alike. The per-account limits (PyPI's 5 a day,
    counted per requesting address, plus a ceiling across all addresses) drop extra mails
    silently: a stranger who asks five times uses up their own quota, not the owner's.
    """
    ip_pair = ("password_reset_ip", ip_address)
    ratelimits.check(ip_pair, message="Too many password resets requested.")
    ratelimits.hit(ip_pair)
    user = _user_for(identifier)
    if user is None or not user.is_active or is_frozen(user):
        return
    account_pairs = (
        ("password_reset_user_ip", f"{user.pk}:{ip_address or ''}"),
        ("password_reset_user", user.pk),
    )
    if ratelimits.is_limited(*account_pairs):
        return
    ratelimits.hit(*account_pairs)
    email = primary_email(user)
    if email is None:
        return
    record_user_event(user=user, tag=UserEvent.Tag.PASSWORD_RESET_REQUEST, ip_address=ip_address)
    send_templated_mail(
        to=email.email,
        template="password-reset",
        context={
            "user": user,
            "url": password_reset_url(user),
            "hours": settings.PASSWORD_RESET_TIMEOUT // 3600,
        },
    )


def password_reset_token(user: AbstractBaseUser) -> str:
    """For /account/reset-password/?token=...; it dies once the password changes or the user
    logs in (Django's token generator hashes both in)."""
    return signing.dumps(
        {"id": user.pk, "token": default_token_generator.make_token(user)}, salt=RESET_SALT
    )


def password_reset_url(user: AbstractBaseUser) -> str:
    """The absolute link mailed for a reset, asked for by the user or forced by staff."""
    return f"{settings.SITE_URL}/account/reset-password/?token={password_reset_token(user)}"


def user_for_reset_token(token: str) -> AbstractBaseUser:
    try:
        data = signing.loads(token, salt=RESET_SALT, max_age=settings.PASSWORD_RESET_TIMEOUT)
    except signing.SignatureExpired:
        raise PasswordResetError("Expired token: request a new password reset link.") from None
    except signing.BadSignature:
        raise PasswordResetError("Invalid token: request a new password reset link.") from None
    user = get_user_model().objects.filter(pk=data["id"], is_active=True).first()
    if user is None or not default_token_generator.check_token(user, data["token"]):
        raise PasswordResetError("Invalid token: the link has been used already.")
    return user


@transaction.atomic
def reset_password(*, user: AbstractBaseUser, password: str, ip_address: str | None) -> None:
    user.set_password(password)
    user.save(update_fields=["password"])
    record_user_event(user=user, tag=UserEvent.Tag.PASSWORD_RESET, ip_address=ip_address)


@transaction.atomic
def change_password(*, user: AbstractBaseUser, password: str, ip_address: str | None) -> None:
    user.set_password(password)
    user.save(update_fields=["password"])
    record_user_event(user=user, tag=UserEvent.Tag.PASSWORD_CHANGE, ip_address=ip_address)
    email = primary_email(user)
    if email is not None and email.verified:
        transaction.on_commit(
            lambda: send_templated_mail(
                to=email.email, template="password-change", context={"user": user}
            )
        )
