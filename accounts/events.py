"""A user's security history (logins, 2FA, addresses, tokens), shown on /manage/account/."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpRequest

from accounts.models import UserEvent


def client_ip(request: HttpRequest) -> str | None:
    """The client's address; behind a proxy (BEHIND_PROXY), the one the proxy appended last to
    X-Forwarded-For, since anything before it is whatever the client claimed."""
    if settings.SECURE_PROXY_SSL_HEADER:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded:
            return forwarded.split(",")[-1].strip() or None
    return request.META.get("REMOTE_ADDR") or None


def record_user_event(
    *, user: AbstractBaseUser, tag: str, ip_address: str | None = None, **additional
) -> UserEvent:
    return UserEvent.objects.create(
        user=user, tag=tag, ip_address=ip_address or None, additional=additional
    )
