"""Trusted publishers (OIDC): who may trade a CI job's identity token for an upload token.

A publisher names one CI identity (a GitHub workflow, a GitLab pipeline, a Google service
account, or claims of an issuer staff registered) and one project; a pending publisher names a
project that does not exist yet and creates it, owned by the user who added it, on first use.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Kind(models.TextChoices):
    GITHUB = "github", "GitHub Actions"
    GITLAB = "gitlab", "GitLab CI/CD"
    GOOGLE = "google", "Google Cloud"
    GENERIC = "generic", "Other OIDC issuer"


class MatchRule(models.TextChoices):
    EXACT = "exact", "equals"
    IEXACT = "iexact", "equals, ignoring case"
    PREFIX = "prefix", "starts with"
    REF = "ref", "equals before the '@'"


class OidcIssuer(models.Model):
    """An issuer staff trust for the generic kind (Forgejo/Gitea Actions, Buildkite, ...).

    `claim_rules` is a list of {"claim": NAME, "match": exact|iexact|prefix|ref}: every
    publisher of this issuer gives a value for each claim, and a token must carry claims that
    match those values that way."""

    name = models.CharField(max_length=100, unique=True)
    issuer_url = models.URLField(max_length=400, unique=True)
    audience = models.CharField(
        max_length=200, blank=True, help_text="Blank: TRUSTED_PUBLISHING_AUDIENCE"
    )
    claim_rules = models.JSONField(default=list, blank=True)
    enabled = models.BooleanField(default=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "OIDC issuer"

    def __str__(self) -> str:
        return f"{self.name} ({self.issuer_url})"

    @property
    def claim_names(self) -> list[str]:
        return [rule["claim"] for rule in self.claim_rules]


class PublisherFields(models.Model):
    """What identifies a CI job; which fields count depends on `kind`."""

    kind = models.CharField(max_length=20, choices=Kind.choices)
    # GitHub: owner and repository; GitLab: namespace and project.
    owner = models.CharField(max_length=200, blank=True)
    repository = models.CharField(max_length=200, blank=True)
    owner_id = models.CharField(max_length=64, blank=True)
    # GitHub: the file name under .github/workflows/; GitLab: the CI file's path.
    workflow = models.CharField(max_length=400, blank=True)
    environment = models.CharField(max_length=200, blank=True)
    # GitLab: a self-managed instance's URL (blank: TRUSTED_PUBLISHING_GITLAB_ISSUER).
    issuer_url = models.URLField(max_length=400, blank=True)
    # Google: the service account's address and, optionally, its subject.
    email = models.EmailField(blank=True)
    subject = models.CharField(max_length=200, blank=True)
    # Generic: the staff-registered issuer and the claim values its rules compare.
    issuer = models.ForeignKey(OidcIssuer, null=True, blank=True, on_delete=models.CASCADE)
    claims = models.JSONField(default=dict, blank=True)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.specifier

    @property
    def specifier(self) -> str:
        """A short human description, as pages and events show it."""
        env = f" (environment {self.environment})" if self.environment else ""
        if self.kind == Kind.GITHUB:
            return f"GitHub {self.owner}/{self.repository} {self.workflow}{env}"
        if self.kind == Kind.GITLAB:
            host = self.issuer_url or settings.TRUSTED_PUBLISHING_GITLAB_ISSUER
            return f"GitLab {host} {self.owner}/{self.repository} {self.workflow}{env}"
        if self.kind == Kind.GOOGLE:
            return f"Google {self.email}" + (f" ({self.subject})" if self.subject else "")
        shown = ", ".join(f"{key}={value}" for key, value in sorted(self.claims.items()))
        return f"{self.issuer.name if self.issuer else 'issuer'} {shown}"

    @property
    def gitlab_issuer(self) -> str:
        return (self.issuer_url or settings.TRUSTED_PUBLISHING_GITLAB_ISSUER).rstrip("/")

    def publisher_fields(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in PUBLISHER_FIELDS}


PUBLISHER_FIELDS = (
    "kind",
    "owner",
    "repository",
    "owner_id",
    "workflow",
    "environment",
    "issuer_url",
    "email",
    "subject",
    "issuer",
    "claims",
    "added_by",
)


class TrustedPublisher(PublisherFields):
    project = models.ForeignKey(
        "packages.Project", on_delete=models.CASCADE, related_name="trusted_publishers"
    )

    class Meta:
        indexes = [models.Index(fields=["kind", "repository"])]


class PendingPublisher(PublisherFields):
    """Creates `project_name` on first use, then becomes a TrustedPublisher."""

    project_name = models.CharField(max_length=200)
    normalized_name = models.CharField(max_length=200, db_index=True, editable=False)


class PublisherToken(models.Model):
    """The link from a minted upload token to the publisher that minted it, with the claims of
    the OIDC token it was traded for (who built what, for events and attestations).

    The token is named by its public identifier, not its row id: API tokens get new ids when
    an export is imported (backups/layout.py), identifiers stay."""

    token_identifier = models.CharField(max_length=32, unique=True)
    publisher = models.ForeignKey(
        TrustedPublisher, null=True, on_delete=models.SET_NULL, related_name="tokens"
    )
    specifier = models.CharField(max_length=800)
    claims = models.JSONField(default=dict)
    created = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"token {self.token_identifier} from {self.specifier}"
