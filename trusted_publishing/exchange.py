"""The exchange: a CI job's verified OIDC token for a 15-minute upload token.

1. Verify the token (trusted_publishing/oidc.py) and refuse a `jti` already used.
2. A pending publisher that matches creates its project, owned by the user who added it, and
   becomes an ordinary publisher.
3. The ordinary publishers that match name the projects; the token is minted for the user on
   whose behalf they publish (see `acting_user`), scoped to those projects, for 15 minutes.
4. The `jti` is marked used until the OIDC token expires, and each project records the event.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.freezing import is_frozen
from accounts.models import ApiToken
from accounts.tokens import create_api_token, find_api_token
from packages import flags, permissions
from packages.events import record_project_event
from packages.models import Project, Role, RoleName
from packages.releases import create_project
from trusted_publishing.claims import matching, stored_claims
from trusted_publishing.models import PendingPublisher, PublisherToken, TrustedPublisher
from trusted_publishing.oidc import ExchangeError, Issuer, verify_token
from trusted_publishing.publishers import EventTag, pending_name_denial, reify_pending_publisher

TOKEN_LIFETIME = timedelta(minutes=15)
EXPIRED_KEPT = timedelta(days=1)


@dataclass(frozen=True)
class Minted:
    plaintext: str
    expires: int


def _jti_key(issuer: Issuer, claims: dict) -> str | None:
    jti = claims.get("jti")
    if jti in (None, ""):
        return None
    return "oidc:jti:" + hashlib.sha256(f"{issuer.url}\n{jti}".encode()).hexdigest()


def _reused() -> ExchangeError:
    return ExchangeError("invalid-reuse-token", "invalid token: already used")


def acting_user(publisher: TrustedPublisher) -> AbstractBaseUser | None:
    """Whose uploads the publisher's make: the user who added it while they keep a role on the
    project, else its longest-standing Owner (an upload token belongs to a user, and the
    upload checks that user's role and standing as for any token)."""
    roles = Role.objects.filter(project=publisher.project).select_related("user")
    if (
        publisher.added_by_id
        and (role := roles.filter(user_id=publisher.added_by_id).first()) is not None
    ):
        return role.user
    role = roles.filter(role_name=RoleName.OWNER).order_by("pk").first()
    return role.user if role is not None else None


def _reify_pending(issuer: Issuer, claims: dict, ip_address: str | None) -> None:
    pending = matching(PendingPublisher.objects.select_related("added_by"), claims, issuer)
    if not pending:
        return
    publisher = pending[0]
    user = publisher.added_by
    if (denial := pending_name_denial(publisher.project_name)) is not None:
        error = ExchangeError("invalid-pending-publisher", f"valid token, but {denial}")
        error.stale_pending = publisher.pk  # it can never create its project: drop it
        raise error
    if (flag := flags.project_registration_denial()) is not None:
        raise ExchangeError("invalid-pending-publisher", flag.message)
    if user is None or not user.is_active or is_frozen(user):
        raise ExchangeError(
            "invalid-pending-publisher", "valid token, but the user who added it cannot publish"
        )
    try:
        with transaction.atomic():
            project = create_project(name=publisher.project_name, owner=user)
    except IntegrityError:
        raise ExchangeError(
            "invalid-pending-publisher", "valid token, but project already exists"
        ) from None
    record_project_event(project=project, tag="project:create", user=user, ip_address=ip_address)
    record_project_event(
        project=project, tag="project:role:add", user=user, role_name=RoleName.OWNER.value
    )
    reify_pending_publisher(pending=publisher, project=project)


def mint_token(raw: str, *, ip_address: str | None = None) -> Minted:
    try:
        return _mint_token(raw, ip_address=ip_address)
    except ExchangeError as exc:
        # After the rollback, so the deletion sticks.
        if stale := getattr(exc, "stale_pending", None):
            PendingPublisher.objects.filter(pk=stale).delete()
        raise


def burn_token(plaintext: str) -> bool:
    """Delete a minted token given back by its holder; other tokens are left alone."""
    token = find_api_token(plaintext)
    if token is None:
        return False
    if not PublisherToken.objects.filter(token_identifier=token.identifier).exists():
        return False
    token.delete()
    return True


@transaction.atomic
def _mint_token(raw: str, *, ip_address: str | None = None) -> Minted:
    if not settings.TRUSTED_PUBLISHING:
        raise ExchangeError("not-enabled", "trusted publishing functionality not enabled")
    issuer, claims = verify_token(raw)
    jti_key = _jti_key(issuer, claims)
    if jti_key is not None and cache.get(jti_key) is not None:
        raise _reused()
    _reify_pending(issuer, claims, ip_address)
    publishers = matching(
        TrustedPublisher.objects.select_related("project", "issuer"), claims, issuer
    )
    if not publishers:
        raise ExchangeError(
            "invalid-publisher",
            "valid token, but no corresponding publisher (Publisher with matching claims was "
            "not found)",
        )
    user = acting_user(publishers[0])
    if user is None:
        raise ExchangeError(
            "invalid-publisher", "valid token, but the publisher's project has no Owner"
        )
    projects: list[Project] = []
    chosen: TrustedPublisher | None = None
    denial = None
    for publisher in publishers:
        if publisher.project in projects:
            continue
        if (denial := permissions.upload_denial(user=user, project=publisher.project)) is None:
            projects.append(publisher.project)
            chosen = chosen or publisher
    if chosen is None:
        raise ExchangeError("invalid-publisher", f"valid token, but {denial.message}")
    # Marked used before the token exists: two requests racing with one JWT get one token.
    if jti_key is not None:
        lifetime = max(int(claims["exp"]) - int(time.time()), 0) + 120
        if not cache.add(jti_key, 1, lifetime):
            raise _reused()
    now = timezone.now()
    expires = now + TOKEN_LIFETIME
    # Minted tokens are dead after 15 minutes; their claims stay in the projects' events.
    swept = PublisherToken.objects.filter(publisher=chosen, created__lt=now - EXPIRED_KEPT)
    ApiToken.objects.filter(identifier__in=swept.values("token_identifier")).delete()
    swept.delete()
    issued = create_api_token(
        user=user,
        projects=projects,
        description=f"OpenID token: {chosen.specifier}"[:200],
        expires=expires,
    )
    kept = stored_claims(issuer.kind, claims)
    PublisherToken.objects.create(
        token_identifier=issued.token.identifier,
        publisher=chosen,
        specifier=chosen.specifier[:800],
        claims=kept,
    )
    for project in projects:
        record_project_event(
            project=project,
            tag=EventTag.TOKEN_MINT,
            user=None,
            ip_address=ip_address,
            submitted_by="OpenID created token",
            publisher=chosen.specifier,
            token=issued.token.identifier,
            expires=expires.isoformat(timespec="seconds"),
            **kept,
        )
    return Minted(plaintext=issued.plaintext, expires=int(expires.timestamp()))
