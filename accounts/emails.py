"""Addresses: adding, verifying by signed link, choosing the primary one, removing.

Where verified addresses come from. Registration (accounts/registration.py) is the only path
that creates an *unverified* address. An address that reaches `User.email` any other way -
`createsuperuser`, `create_user`, the admin, a shell - was given by staff or by code that staff
run, so `record_staff_given_address` (a post_save receiver) records it as the user's verified
primary address. It acts only on addresses no Email row knows yet, so a user's own saves (the
login timestamp, say) never verify anything, and `User.email` keeps mirroring the primary row.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core import signing
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.events import record_user_event
from accounts.mail import send_templated_mail
from accounts.models import Email, UserEvent
from accounts.ratelimits import check, hit

VERIFY_SALT = "accounts.emails.verify"


class EmailError(Exception):
    pass


def primary_email(user: AbstractBaseUser) -> Email | None:
    return Email.objects.filter(user=user, primary=True).first()


def has_verified_primary_email(user: AbstractBaseUser) -> bool:
    return Email.objects.filter(user=user, primary=True, verified=True).exists()


def address_taken(address: str) -> bool:
    return (
        Email.objects.filter(email__iexact=address).exists()
        or get_user_model().objects.filter(email__iexact=address).exists()
    )


def record_staff_given_address(
    sender: type, instance: AbstractBaseUser, raw: bool = False, **kwargs
) -> None:
    """post_save on the user model: see the module docstring."""
    if raw or not instance.email or Email.objects.filter(email__iexact=instance.email).exists():
        return
    try:
        with transaction.atomic():
            Email.objects.filter(user=instance, primary=True).update(primary=False)
            Email.objects.create(
                user=instance,
                email=instance.email,
                primary=True,
                verified=True,
                verified_at=timezone.now(),
            )
    except IntegrityError:
        pass  # Recorded concurrently by another save of the same address.


def verification_token(email: Email) -> str:
    return signing.dumps({"id": email.pk, "email": email.email.lower()}, salt=VERIFY_SALT)


def send_verification(*, email: Email) -> None:
    send_templated_mail(
        to=email.email,
        template="verify-email",
        context={
            "user": email.user,
            "email": email,
            "url": f"{settings.SITE_URL}/account/verify-email/?token={verification_token(email)}",
            "hours": settings.EMAIL_TOKEN_MAX_AGE // 3600,
        },
    )


@transaction.atomic
def add_email(*, user: AbstractBaseUser, address: str, ip_address: str | None = None) -> Email:
    """An unverified extra address, and a mail with its verification link."""
    check(("email_add_user", user.pk), message="Too many emails added to this account.")
    if address_taken(address):
        raise EmailError("This email address is already in use. Use a different one.")
    email = Email.objects.create(user=user, email=address, primary=False, verified=False)
    hit(("email_add_user", user.pk))
    record_user_event(user=user, tag=UserEvent.Tag.EMAIL_ADD, ip_address=ip_address, email=address)
    transaction.on_commit(lambda: send_verification(email=email))
    return email


@transaction.atomic
def verify_email(*, token: str, ip_address: str | None = None) -> Email:
    """Mark the address in a verification link as verified."""
    try:
        data = signing.loads(token, salt=VERIFY_SALT, max_age=settings.EMAIL_TOKEN_MAX_AGE)
    except signing.SignatureExpired:
        raise EmailError("Expired token: request a new verification link.") from None
    except signing.BadSignature:
        raise EmailError("Invalid token: request a new verification link.") from None
    email = Email.objects.select_for_update().filter(pk=data["id"]).first()
    if email is None or email.email.lower() != data["email"]:
        raise EmailError("Email not found: request a new verification link.")
    if not email.verified:
        email.verified, email.verified_at = True, timezone.now()
        email.save(update_fields=["verified", "verified_at"])
        record_user_event(
            user=email.user,
            tag=UserEvent.Tag.EMAIL_VERIFIED,
            ip_address=ip_address,
            email=email.email,
        )
    return email


@transaction.atomic
def make_primary(*, user: AbstractBaseUser, email: Email, ip_address: str | None = None) -> None:
    if email.user_id != user.pk:
        raise EmailError("Email not found.")
    if not email.verified:
        raise EmailError("Verify this address before making it your primary one.")
    previous = primary_email(user)
    Email.objects.filter(user=user, primary=True).update(primary=False)
    Email.objects.filter(pk=email.pk).update(primary=True)
    # A queryset update: no post_save, and the address already has its row anyway.
    get_user_model().objects.filter(pk=user.pk).update(email=email.email)
    user.email = email.email
    record_user_event(
        user=user,
        tag=UserEvent.Tag.EMAIL_PRIMARY_CHANGE,
        ip_address=ip_address,
        old_primary=previous.email if previous else None,
        new_primary=email.email,
    )


@transaction.atomic
def remove_email(*, user: AbstractBaseUser, email: Email, ip_address: str | None = None) -> None:
    if email.user_id != user.pk:
        raise EmailError("Email not found.")
    if email.primary:
        raise EmailError("Cannot remove primary email address.")
    email.delete()
    record_user_event(
        user=user, tag=UserEvent.Tag.EMAIL_REMOVE, ip_address=ip_address, email=email.email
    )
