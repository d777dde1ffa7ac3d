"""Two-factor authentication: RFC 6238 TOTP (6 digits, 30 s steps) and one-time recovery codes.

A TOTP code is accepted for the current step or one step either side (clock drift), and only
for a step later than the last accepted one, so no code works twice. Recovery codes are random,
shown once, and kept only as password hashes (Argon2).
"""

from __future__ import annotations

import hmac
import io
import secrets
import time

import pyotp
import qrcode
import qrcode.image.svg
from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from accounts.events import record_user_event
from accounts.models import Account, RecoveryCode, UserEvent

RECOVERY_CODE_COUNT = 8
TOTP_DRIFT_STEPS = 1


class TwoFactorError(Exception):
    pass


def has_two_factor(user: AbstractBaseUser) -> bool:
    return Account.objects.filter(user=user).exclude(totp_secret="").exists()


def new_totp_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(*, secret: str, username: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=settings.SITE_NAME)


def qr_code_svg(data: str) -> str:
    """An inline SVG (no scripts or styles, so the strict CSP allows it)."""
    image = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, box_size=10)
    buffer = io.BytesIO()
    image.save(buffer)
    svg = buffer.getvalue().decode()
    return svg[svg.index("<svg") :]


def _matching_step(*, secret: str, code: str, after: int | None) -> int | None:
    """The time step whose code is `code`, if it is within the drift and after `after`."""
    code = "".join(code.split())
    if not (len(code) == 6 and code.isdigit()):
        return None
    totp = pyotp.TOTP(secret)
    now_step = int(time.time()) // totp.interval
    for step in range(now_step - TOTP_DRIFT_STEPS, now_step + TOTP_DRIFT_STEPS + 1):
        if (after is None or step > after) and hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


@transaction.atomic
def verify_totp(*, user: AbstractBaseUser, code: str) -> bool:
    """True if `code` is a fresh TOTP code for `user`; it is then used up."""
    account = Account.objects.select_for_update().filter(user=user).first()
    if account is None or not account.totp_secret:
        return False
    step = _matching_step(secret=account.totp_secret, code=code, after=account.totp_last_counter)
    if step is None:
        return False
    account.totp_last_counter = step
    account.save(update_fields=["totp_last_counter"])
    return True


@transaction.atomic
def enable_totp(
    *, user: AbstractBaseUser, secret: str, code: str, ip_address: str | None = None
) -> list[str]:
    """Turn TOTP on once the user proves their app holds `secret`; returns fresh recovery
    codes to show once."""
    step = _matching_step(secret=secret, code=code, after=None)
    if step is None:
        raise TwoFactorError("Invalid TOTP code. Try again?")
    account, _created = Account.objects.select_for_update().get_or_create(user=user)
    if account.totp_secret:
        raise TwoFactorError(
            "Account cannot be linked to more than one authentication application at a time."
        )
    account.totp_secret, account.totp_last_counter = secret, step
    account.save(update_fields=["totp_secret", "totp_last_counter"])
    record_user_event(
        user=user, tag=UserEvent.Tag.TWO_FACTOR_ADD, ip_address=ip_address, method="totp"
    )
    return generate_recovery_codes(user=user, ip_address=ip_address)


@transaction.atomic
def disable_totp(*, user: AbstractBaseUser, ip_address: str | None = None) -> None:
    Account.objects.filter(user=user).update(totp_secret="", totp_last_counter=None)
    RecoveryCode.objects.filter(user=user).delete()
    record_user_event(
        user=user, tag=UserEvent.Tag.TWO_FACTOR_REMOVE, ip_address=ip_address, method="totp"
    )


@transaction.atomic
def generate_recovery_codes(*, user: AbstractBaseUser, ip_address: str | None = None) -> list[str]:
    """Replace the user's recovery codes with new ones; returns them in plain text, once."""
    if not has_two_factor(user):
        raise TwoFactorError("Turn on two-factor authentication first.")
    codes = [secrets.token_hex(8) for _ in range(RECOVERY_CODE_COUNT)]
    RecoveryCode.objects.filter(user=user).delete()
    RecoveryCode.objects.bulk_create(
        RecoveryCode(user=user, code_hash=make_password(code)) for code in codes
    )
    record_user_event(user=user, tag=UserEvent.Tag.RECOVERY_CODES_GENERATE, ip_address=ip_address)
    return codes


@transaction.atomic
def use_recovery_code(*, user: AbstractBaseUser, code: str, ip_address: str | None = None) -> bool:
    """True if `code` is one of the user's unused recovery codes; it is then burnt."""
    code = "".join(code.split()).lower()
    for recovery in RecoveryCode.objects.select_for_update().filter(user=user, used_at=None):
        if check_password(code, recovery.code_hash):
            RecoveryCode.objects.filter(pk=recovery.pk).update(used_at=timezone.now())
            record_user_event(user=user, tag=UserEvent.Tag.RECOVERY_CODE_USE, ip_address=ip_address)
            return True
    return False


def unused_recovery_codes(user: AbstractBaseUser) -> int:
    return RecoveryCode.objects.filter(user=user, used_at=None).count()
