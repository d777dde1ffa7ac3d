"""Creating and checking API tokens: the only module that sees a token's secret.

A token reads `<API_TOKEN_PREFIX><identifier>.<secret>`. The prefix lets secret scanners spot a
leaked token; the identifier finds the row; the secret is kept only as a SHA-256 hash (it is 256
random bits, so a slow password hash would add nothing) and compared in constant time.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts.events import record_user_event
from accounts.models import ApiToken, UserEvent
from pypi_site.prepared import PreparedQuery

# A token's history notes its use at most this often, so busy CI tokens don't flood it.
USE_EVENT_INTERVAL = timedelta(hours=1)
LAST_USED_PRECISION = timedelta(minutes=1)


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
    read_only: bool = False,
) -> IssuedToken:
    identifier = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    projects = list(projects)
    token = ApiToken.objects.create(
        user=user,
        scoped=bool(projects),
        read_only=read_only,
        identifier=identifier,
        secret_hash=_hash_secret(secret),
        description=description,
        expires=expires,
    )
    token.projects.set(projects)
    return IssuedToken(token=token, plaintext=f"{settings.API_TOKEN_PREFIX}{identifier}.{secret}")


def find_api_token(plaintext: str) -> ApiToken | None:
    """The live token matching `plaintext`, or None if unknown, malformed, expired, or its user
    is inactive or frozen."""
    prefix = settings.API_TOKEN_PREFIX
    if not plaintext.startswith(prefix):
        return None
    identifier, _, secret = plaintext[len(prefix) :].partition(".")
    # No identifier has a NUL byte, and PostgreSQL would refuse one in the query (a 500).
    if not identifier or not secret or "\x00" in identifier:
        return None
    token = _token_with_user(identifier)
    if token is None or not hmac.compare_digest(token.secret_hash, _hash_secret(secret)):
        return None
    if token.is_expired or not token.user.is_active or token.user_frozen:
        return None
    return token


@functools.cache
def _columns() -> tuple[list[str], list[str]]:
    """The token's and its user's fields, in the order the query below selects them."""
    return (
        [field.attname for field in ApiToken._meta.concrete_fields],
        [field.attname for field in get_user_model()._meta.concrete_fields],
    )


# Installers send the token with every read, so its row, its user's and the user's frozen flag
# (LEFT JOIN on the optional Account row) come in one query, compiled once.
_TOKEN_WITH_USER = PreparedQuery(
    lambda identifier: ApiToken.objects.filter(identifier=identifier).values_list(
        *_columns()[0], *(f"user__{name}" for name in _columns()[1]), "user__account__is_frozen"
    )[:1],
    identifier=str,
)


def _token_with_user(identifier: str) -> ApiToken | None:
    """The token with this identifier, its `user` loaded and `user_frozen` set, as
    `select_related` would make them."""
    row = _TOKEN_WITH_USER.first(identifier=identifier)
    if row is None:
        return None
    token_columns, user_columns = _columns()
    db = _TOKEN_WITH_USER.alias
    token = ApiToken.from_db(db, token_columns, row[: len(token_columns)])
    user = get_user_model().from_db(db, user_columns, row[len(token_columns) : -1])
    ApiToken.user.field.set_cached_value(token, user)
    token.user_frozen = bool(row[-1])
    return token


def record_token_use(token: ApiToken) -> None:
    """Note when a token was last used, to the minute: a write per upload would queue every
    upload behind SQLite's single writer for no information anyone reads."""
    now = timezone.now()
    if token.last_used is not None and now - token.last_used < LAST_USED_PRECISION:
        return
    ApiToken.objects.filter(pk=token.pk).update(last_used=now)
    if token.last_used is None or now - token.last_used >= USE_EVENT_INTERVAL:
        record_user_event(
            user=token.user,
            tag=UserEvent.Tag.TOKEN_USE,
            identifier=token.identifier,
            description=token.description,
        )


class TokenError(Exception):
    pass


# Which projects a user may scope a token to is a permission rule about projects, which live in
# a higher layer (packages, whose roles include those granted through organizations): packages
# registers its rule here when the app starts (PackagesConfig.ready).
ScopeRule = Callable[..., QuerySet]
_scope_rule: ScopeRule | None = None


def register_scope_rule(rule: ScopeRule) -> None:
    """`rule(user=..., read_only=...)` returns the Project queryset a token may be scoped to."""
    global _scope_rule
    _scope_rule = rule


def scopable_projects(*, user: AbstractBaseUser, read_only: bool) -> QuerySet:
    """The projects a token of `user` may name: an upload token those they may upload to, a
    read token also those they may read."""
    if _scope_rule is None:
        raise ImproperlyConfigured("No token scope rule registered (is packages installed?)")
    return _scope_rule(user=user, read_only=read_only)


def issue_api_token(
    *,
    user: AbstractBaseUser,
    projects: Iterable = (),
    description: str = "",
    expires: datetime | None = None,
    ip_address: str | None = None,
    read_only: bool = False,
) -> IssuedToken:
    """A token made on the website: only for projects the scope rule allows (`scopable_projects`),
    and noted in their history. The plain text is returned once and never stored."""
    projects = list(projects)
    if projects:
        wanted = {project.pk for project in projects}
        allowed = scopable_projects(user=user, read_only=read_only).filter(pk__in=wanted)
        if allowed.count() != len(wanted):
            raise TokenError(
                "You can only scope a read-only token to projects you may read."
                if read_only
                else "You can only scope an upload token to projects you may upload to "
                "(tick Read only for a project you only read)."
            )
    if expires is not None and expires <= timezone.now():
        raise TokenError("The expiry date must be in the future.")
    issued = create_api_token(
        user=user,
        projects=projects,
        description=description,
        expires=expires,
        read_only=read_only,
    )
    record_user_event(
        user=user,
        tag=UserEvent.Tag.TOKEN_CREATE,
        ip_address=ip_address,
        identifier=issued.token.identifier,
        description=description,
        projects=[p.name for p in projects],
        expires=expires.isoformat() if expires else None,
        read_only=read_only,
    )
    return issued


@transaction.atomic
def revoke_api_token(
    *, user: AbstractBaseUser, identifier: str, ip_address: str | None = None
) -> None:
    """Delete the token: from then on it is as unknown as a made-up one."""
    token = ApiToken.objects.filter(user=user, identifier=identifier).first()
    if token is None:
        raise TokenError("No such token.")
    token.delete()
    record_user_event(
        user=user,
        tag=UserEvent.Tag.TOKEN_REVOKE,
        ip_address=ip_address,
        identifier=identifier,
        description=token.description,
    )
