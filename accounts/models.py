"""What the index keeps about people beyond Django's `auth.User`: API tokens, addresses,
two-factor secrets, recovery codes and each user's security history."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone


class ApiToken(models.Model):
    """An upload token. Only a hash of the secret is kept (see accounts/tokens.py).

    A token is user-wide or scoped, for good: `scoped` is set at creation and never changes, so
    a scoped token whose projects were all deleted is valid for nothing, rather than falling
    back to "no projects listed, so every project" (packages/permissions.py asks `scoped`).
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    # Public, random lookup key embedded in the token; lets us find the row without the secret.
    identifier = models.CharField(max_length=32, unique=True, editable=False)
    secret_hash = models.CharField(max_length=64, editable=False)
    description = models.CharField(max_length=200, blank=True)
    scoped = models.BooleanField(default=False, editable=False)
    # A read token downloads (private projects included) but never uploads; set at creation.
    read_only = models.BooleanField(default=False, editable=False)
    projects = models.ManyToManyField("packages.Project", blank=True, related_name="api_tokens")
    created = models.DateTimeField(auto_now_add=True)
    last_used = models.DateTimeField(null=True, blank=True, editable=False)
    expires = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.user} token {self.identifier} {self.description}".strip()

    @property
    def is_expired(self) -> bool:
        return self.expires is not None and self.expires <= timezone.now()

    @property
    def scope_description(self) -> str:
        """What the token may upload to (or read, for a read token), as the token page and
        admin show it."""
        kind = "Read only: " if self.read_only else ""
        if not self.scoped:
            return f"{kind}All projects"
        names = [project.name for project in self.projects.all()]
        return kind + (", ".join(names) or "No project (its projects were deleted)")


class Account(models.Model):
    """What the index knows about a user beyond Django's `auth.User`."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, primary_key=True, on_delete=models.CASCADE, related_name="account"
    )
    is_frozen = models.BooleanField(default=False)
    frozen_reason = models.TextField(blank=True)
    frozen_at = models.DateTimeField(null=True, blank=True)
    # RFC 6238 TOTP: the base32 secret, empty while TOTP is off, and the time step of the last
    # code accepted, so no code works twice (accounts/twofactor.py).
    totp_secret = models.CharField(max_length=64, blank=True, editable=False)
    totp_last_counter = models.BigIntegerField(null=True, blank=True, editable=False)

    def __str__(self) -> str:
        return f"account of {self.user}"

    @property
    def has_totp(self) -> bool:
        return bool(self.totp_secret)


class Email(models.Model):
    """A user's address. `User.email` mirrors the primary one (see accounts/emails.py)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="emails"
    )
    email = models.EmailField(max_length=254)
    primary = models.BooleanField(default=False)
    verified = models.BooleanField(default=False)
    created = models.DateTimeField(auto_now_add=True)
    verified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("email"), name="unique_email_address"),
            models.UniqueConstraint(
                fields=["user"], condition=Q(primary=True), name="one_primary_email"
            ),
        ]

    def __str__(self) -> str:
        return self.email


class RecoveryCode(models.Model):
    """A one-time code that stands in for the TOTP code; only a password-style hash is kept."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="recovery_codes"
    )
    code_hash = models.CharField(max_length=200, editable=False)
    created = models.DateTimeField(auto_now_add=True)
    used_at = models.DateTimeField(null=True, blank=True, editable=False)

    def __str__(self) -> str:
        return f"recovery code of {self.user}"


class UserEvent(models.Model):
    """A user's security history: logins, failures, 2FA, addresses, tokens."""

    class Tag(models.TextChoices):
        ACCOUNT_CREATE = "account:create"
        LOGIN_SUCCESS = "account:login:success"
        LOGIN_FAILURE = "account:login:failure"
        LOGOUT = "account:logout"
        REAUTHENTICATE = "account:reauthenticate"
        PASSWORD_CHANGE = "account:password:change"
        PASSWORD_RESET_REQUEST = "account:password:reset:request"
        PASSWORD_RESET = "account:password:reset"
        EMAIL_ADD = "account:email:add"
        EMAIL_REMOVE = "account:email:remove"
        EMAIL_VERIFIED = "account:email:verified"
        EMAIL_PRIMARY_CHANGE = "account:email:primary:change"
        TWO_FACTOR_ADD = "account:two_factor:method_added"
        TWO_FACTOR_REMOVE = "account:two_factor:method_removed"
        TWO_FACTOR_FAILURE = "account:two_factor:failure"
        RECOVERY_CODES_GENERATE = "account:recovery_codes:generated"
        RECOVERY_CODE_USE = "account:recovery_codes:used"
        TOKEN_CREATE = "account:api_token:added"
        TOKEN_USE = "account:api_token:used"
        TOKEN_REVOKE = "account:api_token:removed"
        ROLE_INVITATION_ACCEPT = "account:role:accepted"
        ROLE_INVITATION_DECLINE = "account:role:declined"
        # By staff (accounts/moderation.py).
        FROZEN = "account:frozen"
        UNFROZEN = "account:unfrozen"
        PASSWORD_RESET_BY_STAFF = "account:password:reset_by_staff"
        TWO_FACTOR_REMOVED_BY_STAFF = "account:two_factor:removed_by_staff"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="events"
    )
    tag = models.CharField(max_length=100, choices=Tag.choices)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    additional = models.JSONField(default=dict, blank=True)
    time = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-time", "-id"]

    def __str__(self) -> str:
        return f"{self.user} {self.tag}"
