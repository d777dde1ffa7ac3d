"""Creating and checking API tokens: the only module that sees a token's secret.

A token reads `<API_TOKEN_PREFIX><identifier>.<secret>`. The prefix lets secret scanners spot a
leaked token; the identifier finds the row; the secret is kept only as a SHA-256 hash (it is 256
random bits, so a slow password hash would add nothing) and compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from accounts.freezing import is_frozen
from accounts.models import ApiToken


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    plaintext: str


def _hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@transaction.atomic
def create_api_token(
    *,
    user: AbstractBaseUser,
    projects: Iterable = (),
    description: str = "",
    expires=None,
) -> IssuedToken:
    identifier = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        identifier=identifier,
        secret_hash=_hash_secret(secret),
        description=description,
        expires=expires,
    )
    token.projects.set(list(projects))
    return IssuedToken(token=token, plaintext=f"{settings.API_TOKEN_PREFIX}{identifier}.{secret}")


def find_api_token(plaintext: str) -> ApiToken | None:
    """The live token matching `plaintext`, or None if unknown, malformed, expired, or its user
    is inactive or frozen."""
    prefix = settings.API_TOKEN_PREFIX
    if not plaintext.startswith(prefix):
        return None
    identifier, _, secret = plaintext[len(prefix) :].partition(".")
    if not identifier or not secret:
        return None
    token = ApiToken.objects.select_related("user").filter(identifier=identifier).first()
    if token is None or not hmac.compare_digest(token.secret_hash, _hash_secret(secret)):
        return None
    if token.is_expired or not token.user.is_active or is_frozen(token.user):
        return None
    return token


def record_token_use(token: ApiToken) -> None:
    ApiToken.objects.filter(pk=token.pk).update(last_used=timezone.now())
