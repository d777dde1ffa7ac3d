"""API tokens. Users are Django's own `auth.User`."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class ApiToken(models.Model):
    """An upload token. Only a hash of the secret is kept (see accounts/tokens.py).

    With no projects the token is user-wide; otherwise it is valid for those projects only.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    # Public, random lookup key embedded in the token; lets us find the row without the secret.
    identifier = models.CharField(max_length=32, unique=True, editable=False)
    secret_hash = models.CharField(max_length=64, editable=False)
    description = models.CharField(max_length=200, blank=True)
    projects = models.ManyToManyField("packages.Project", blank=True, related_name="api_tokens")
    created = models.DateTimeField(auto_now_add=True)
    last_used = models.DateTimeField(null=True, blank=True, editable=False)
    expires = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.user} token {self.identifier} {self.description}".strip()

    @property
    def is_expired(self) -> bool:
        return self.expires is not None and self.expires <= timezone.now()


class Account(models.Model):
    """What the index knows about a user beyond Django's `auth.User`."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, primary_key=True, on_delete=models.CASCADE, related_name="account"
    )
    is_frozen = models.BooleanField(default=False)
    frozen_reason = models.TextField(blank=True)
    frozen_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"account of {self.user}"
