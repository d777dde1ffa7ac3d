"""Webhook subscriptions and the log of their deliveries."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from packages.models import Project


class EventKind(models.TextChoices):
    FILE_UPLOADED = "file.uploaded", "File uploaded"
    # Sent once per release, with its first file (the moment it becomes installable).
    RELEASE_PUBLISHED = "release.published", "Release published"
    RELEASE_YANKED = "release.yanked", "Release yanked"
    RELEASE_UNYANKED = "release.unyanked", "Release un-yanked"
    FILE_DELETED = "file.deleted", "File deleted"
    RELEASE_DELETED = "release.deleted", "Release deleted"
    PROJECT_DELETED = "project.deleted", "Project deleted"
    ROLE_CHANGED = "role.changed", "Collaborator role added, changed or removed"


class Subscription(models.Model):
    """A URL that receives some of one project's events (an Owner's), or of every project's
    (staff's, `all_projects`)."""

    # SET_NULL, not CASCADE: deleting a project still delivers its "project.deleted" event
    # (sent after the commit). A subscription left without project matches nothing again, so a
    # new project that takes the name later does not inherit it.
    project = models.ForeignKey(
        Project, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    project_name = models.CharField(max_length=200, blank=True, editable=False)
    all_projects = models.BooleanField(
        default=False, help_text="Staff only: receive these events of every project"
    )
    url = models.URLField(max_length=2000, verbose_name="URL")
    events = models.JSONField(default=list, help_text="Event kinds sent to this URL")
    # Kept in clear: every delivery is signed with it (HMAC), as other webhook senders do. Shown
    # once when created, never on a page again.
    secret = models.CharField(max_length=200, editable=False)
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        scope = "all projects" if self.all_projects else self.project_name
        return f"{self.url} ({scope})"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    RETRYING = "retrying", "Failed, will retry"
    FAILED = "failed", "Failed"


class Delivery(models.Model):
    """One event sent to one subscription; its id is the payload's `delivery` and the
    `X-Index-Delivery` header. A redelivery is a new row (new id) pointing at the original."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    subscription = models.ForeignKey(
        Subscription, on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.CharField(max_length=40, choices=EventKind.choices)
    payload = models.JSONField()
    status = models.CharField(
        max_length=20, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    response_excerpt = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True, db_index=True)
    last_attempt = models.DateTimeField(null=True, blank=True)
    redelivery_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name_plural = "deliveries"
        indexes = [models.Index(fields=["subscription", "-created"])]

    def __str__(self) -> str:
        return f"{self.event} to {self.subscription.url} ({self.status})"
