"""HTTP Basic credentials on read routes: what pip, uv and poetry send for a private index.

`__token__:<token>` is checked by accounts/tokens.py (one indexed query); a user's own name and
password only with READ_BASIC_AUTH_PASSWORDS on and 2FA off, since Basic has no place for a
second factor. Installers send the credentials with every request, so a good password is
remembered in the shared cache for PASSWORD_MEMO_SECONDS under a keyed hash of what was sent
and the stored password hash (a password change ends it); failures count against the login
limits, token failures against `basic_auth_ip` (checked only when a token is wrong).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.cache import cache
from django.http import HttpRequest

from accounts import ratelimits
from accounts.events import client_ip
from accounts.freezing import is_frozen
from accounts.login import LoginError, check_password_login
from accounts.models import ApiToken
from accounts.tokens import find_api_token, record_token_use
from accounts.twofactor import has_two_factor

TOKEN_USERNAME = "__token__"
PASSWORD_MEMO_SECONDS = 300
MAX_HEADER = 4096


class BasicAuthError(Exception):
    def __init__(self, message: str, *, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


@dataclass(frozen=True)
class BasicIdentity:
    user: AbstractBaseUser
    token: ApiToken | None = None


def basic_credentials(request: HttpRequest) -> tuple[str, str] | None:
    """(username, password) from `Authorization: Basic`, or None when the request has none."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    if len(encoded) > MAX_HEADER:
        raise BasicAuthError("The credentials are too long.")
    try:
        username, sep, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BasicAuthError("The credentials are not valid HTTP Basic.") from None
    # No name or password has a NUL (and PostgreSQL refuses one in a query).
    if not sep or "\x00" in username or "\x00" in password:
        raise BasicAuthError("The credentials are not valid HTTP Basic.")
    return username, password


def authenticate_basic(request: HttpRequest) -> BasicIdentity | None:
    """The identity behind the request's Basic credentials; None when it sent none. Raises
    BasicAuthError for wrong or refused ones."""
    credentials = basic_credentials(request)
    if credentials is None:
        return None
    username, password = credentials
    if username == TOKEN_USERNAME:
        return _token_identity(request, password)
    return _password_identity(request, username, password)


def _token_identity(request: HttpRequest, plaintext: str) -> BasicIdentity:
    # A good token skips the limit's cache read (installers send it with every request); a
    # wrong one is counted, and once over the limit every wrong one answers 429. Guessing a
    # 256-bit secret gains nothing from the few tries a window allows.
    token = find_api_token(plaintext)
    if token is None:
        pairs = (("basic_auth_ip", client_ip(request)),)
        try:
            ratelimits.check(*pairs, message="Too many failed attempts with credentials.")
        except ratelimits.RateLimited as exc:
            raise BasicAuthError(exc.message, retry_after=exc.retry_after) from None
        ratelimits.hit(*pairs)
        raise BasicAuthError("Invalid or expired API token.")
    record_token_use(token)
    return BasicIdentity(user=token.user, token=token)


def _memo_key(username: str, password: str) -> str:
    digest = hmac.new(
        settings.SECRET_KEY.encode(), f"{username}\x00{password}".encode(), hashlib.sha256
    ).hexdigest()
    return f"basic-password:{digest}"


def _password_identity(request: HttpRequest, username: str, password: str) -> BasicIdentity:
    if not settings.READ_BASIC_AUTH_PASSWORDS:
        raise BasicAuthError(
            f"Use an API token: the username {TOKEN_USERNAME} and the token as the password."
        )
    key = _memo_key(username, password)
    memo = cache.get(key)
    if memo is not None:
        user = get_user_model().objects.filter(pk=memo[0], is_active=True).first()
        if user is not None and user.password == memo[1] and not is_frozen(user):
            return BasicIdentity(user=user)
    try:
        user = check_password_login(request=request, username=username, password=password)
    except ratelimits.RateLimited as exc:
        raise BasicAuthError(exc.message, retry_after=exc.retry_after) from None
    except LoginError as exc:
        raise BasicAuthError(str(exc)) from None
    if has_two_factor(user):
        raise BasicAuthError(
            "This account has two-factor authentication: use an API token instead."
        )
    cache.set(key, (user.pk, user.password), PASSWORD_MEMO_SECONDS)
    return BasicIdentity(user=user)
