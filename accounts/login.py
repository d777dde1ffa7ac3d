"""Logging in: password, then the second factor when the user has one; re-authentication.

1. `check_password_login` checks the password under the per-user and per-IP failure limits.
2. With 2FA on, the user is only *pending* in the session (for PENDING_MAX_AGE) until
   `check_second_factor` accepts a TOTP or recovery code, under the 2FA limits.
3. `complete_login` starts the Django session and notes when the password was last given, which
   `needs_reauthentication` compares with REAUTH_GRACE_SECONDS for sensitive actions.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib.auth import authenticate, get_user_model, login
from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpRequest

from accounts import ratelimits
from accounts.events import client_ip, record_user_event
from accounts.freezing import is_frozen
from accounts.models import UserEvent
from accounts.twofactor import has_two_factor, use_recovery_code, verify_totp

PENDING_KEY = "accounts.pending_login"
AUTHENTICATED_AT_KEY = "accounts.authenticated_at"
PENDING_MAX_AGE = 5 * 60
BACKEND = "django.contrib.auth.backends.ModelBackend"
FROZEN_MESSAGE = "This account is frozen. Contact the index's administrators."


class LoginError(Exception):
    pass


def find_user(username: str) -> AbstractBaseUser | None:
    """Usernames are unique without regard to case, as on PyPI."""
    return get_user_model().objects.filter(username__iexact=username.strip()).first()


def check_password_login(*, request: HttpRequest, username: str, password: str) -> AbstractBaseUser:
    ip = client_ip(request)
    user = find_user(username)
    user_key = user.pk if user else username.strip().lower()
    pairs = (("login_ip", ip), ("login_user", user_key))
    ratelimits.check(*pairs, message="There have been too many unsuccessful login attempts.")
    authenticated = authenticate(
        request, username=user.get_username() if user else username, password=password
    )
    if authenticated is None:
        ratelimits.hit(*pairs)
        if user is not None:
            record_user_event(
                user=user, tag=UserEvent.Tag.LOGIN_FAILURE, ip_address=ip, reason="password"
            )
        raise LoginError("The username or password is not right. Try again.")
    if is_frozen(authenticated):
        record_user_event(
            user=authenticated, tag=UserEvent.Tag.LOGIN_FAILURE, ip_address=ip, reason="frozen"
        )
        raise LoginError(FROZEN_MESSAGE)
    return authenticated


def start_login(*, request: HttpRequest, user: AbstractBaseUser) -> bool:
    """Log in after the password, or park the user until the second factor; True if logged in."""
    if has_two_factor(user):
        request.session[PENDING_KEY] = {"user_id": user.pk, "at": time.time()}
        return False
    complete_login(request=request, user=user, method="password")
    return True


def pending_user(request: HttpRequest) -> AbstractBaseUser | None:
    pending = request.session.get(PENDING_KEY)
    if not pending or time.time() - pending["at"] > PENDING_MAX_AGE:
        return None
    user = get_user_model().objects.filter(pk=pending["user_id"], is_active=True).first()
    return None if user is None or is_frozen(user) else user


def check_second_factor(
    *, request: HttpRequest, user: AbstractBaseUser, totp_code: str = "", recovery_code: str = ""
) -> None:
    """Log the pending user in if the code is right; raise LoginError otherwise."""
    ip = client_ip(request)
    pairs = (("two_factor_ip", ip), ("two_factor_user", user.pk))
    ratelimits.check(*pairs, message="There have been too many attempted logins.")
    if totp_code:
        accepted, method = verify_totp(user=user, code=totp_code), "totp"
    else:
        accepted = use_recovery_code(user=user, code=recovery_code, ip_address=ip)
        method = "recovery-code"
    if not accepted:
        ratelimits.hit(*pairs)
        record_user_event(
            user=user, tag=UserEvent.Tag.TWO_FACTOR_FAILURE, ip_address=ip, method=method
        )
        raise LoginError("Invalid TOTP code." if method == "totp" else "Invalid recovery code.")
    request.session.pop(PENDING_KEY, None)
    complete_login(request=request, user=user, method=method)


def complete_login(*, request: HttpRequest, user: AbstractBaseUser, method: str) -> None:
    login(request, user, backend=BACKEND)  # new session key: no fixation
    request.session[AUTHENTICATED_AT_KEY] = time.time()
    ratelimits.clear(("login_user", user.pk))
    record_user_event(
        user=user, tag=UserEvent.Tag.LOGIN_SUCCESS, ip_address=client_ip(request), method=method
    )


def needs_reauthentication(request: HttpRequest) -> bool:
    at = request.session.get(AUTHENTICATED_AT_KEY, 0)
    return time.time() - at > settings.REAUTH_GRACE_SECONDS


def reauthenticate(*, request: HttpRequest, password: str) -> None:
    """Confirm the logged-in user's password; counts as a failed login when wrong."""
    user = request.user
    ip = client_ip(request)
    pairs = (("login_ip", ip), ("login_user", user.pk))
    ratelimits.check(*pairs, message="There have been too many unsuccessful login attempts.")
    if not user.check_password(password):
        ratelimits.hit(*pairs)
        record_user_event(
            user=user, tag=UserEvent.Tag.LOGIN_FAILURE, ip_address=ip, reason="reauthenticate"
        )
        raise LoginError("The password is not right. Try again.")
    request.session[AUTHENTICATED_AT_KEY] = time.time()
    record_user_event(user=user, tag=UserEvent.Tag.REAUTHENTICATE, ip_address=ip)
