"""The proxy's own state. What the upstream lists lives in packages' Project, Release and File
rows (Project.origin = upstream), so every read path renders it as it renders local data; these
rows say how fresh that copy is, and hold staff's decisions about upstream names."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from packages.models import Project


class UpstreamProject(models.Model):
    """One name the proxy has fetched (or staff blocked): when, with which validators, what
    went wrong last. Names the upstream does not have get no row (they are remembered in the
    cache for UPSTREAM_PAGE_TTL), so probing random names adds nothing here."""

    normalized_name = models.CharField(max_length=200, unique=True)
    project = models.OneToOneField(
        Project, null=True, blank=True, on_delete=models.SET_NULL, related_name="upstream_state"
    )
    fetched_at = models.DateTimeField(null=True, blank=True, help_text="Last good answer")
    etag = models.CharField(max_length=300, blank=True)
    last_modified = models.CharField(max_length=100, blank=True)
    upstream_serial = models.BigIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    error_count = models.IntegerField(default=0, help_text="Failed fetches since the last good one")
    blocked = models.BooleanField(
        default=False, help_text="Never fetched or served from upstream (404 with the reason)"
    )
    block_reason = models.TextField(blank=True, help_text="Shown in the 404's body")
    # When the upstream last listed the name (fetches and `check_local_names`), null once it
    # answered 404: with a local project of the same name, a possible dependency confusion.
    seen_upstream_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.normalized_name


class AllowedLocalName(models.Model):
    """A name that exists upstream but that staff allow as a local project (the
    dependency-confusion guard refuses creating it otherwise)."""

    name = models.CharField(max_length=200)
    normalized_name = models.CharField(max_length=200, unique=True, editable=False)
    reason = models.TextField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name
