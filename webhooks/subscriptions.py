"""Adding and removing webhooks; owners' changes go in the project's security history."""

from __future__ import annotations

import secrets

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from packages.events import record_project_event
from packages.models import Project
from webhooks.models import Subscription

# Tags of the project events these changes add (next to Warehouse's in packages/events.py).
WEBHOOK_ADD = "project:webhook:add"
WEBHOOK_REMOVE = "project:webhook:remove"
# Each webhook costs every upload of the project a delivery; a bound keeps that small.
MAX_PER_PROJECT = 10


class WebhookError(ValueError):
    pass


def new_secret() -> str:
    return secrets.token_urlsafe(32)


@transaction.atomic
def create_subscription(
    *,
    project: Project,
    url: str,
    events: list[str],
    secret: str = "",
    by: AbstractBaseUser,
    ip_address: str | None = None,
) -> Subscription:
    """An Owner's webhook for one project; an empty `secret` gets a generated one."""
    # Locked, so two owners adding at once cannot pass the bound together.
    Project.objects.select_for_update().filter(pk=project.pk).first()
    if Subscription.objects.filter(project=project).count() >= MAX_PER_PROJECT:
        raise WebhookError(f"A project has at most {MAX_PER_PROJECT} webhooks.")
    subscription = Subscription.objects.create(
        project=project,
        project_name=project.name,
        url=url,
        events=list(events),
        secret=secret or new_secret(),
        created_by=by,
    )
    record_project_event(
        project=project, tag=WEBHOOK_ADD, user=by, ip_address=ip_address, url=url, events=events
    )
    return subscription


@transaction.atomic
def delete_subscription(
    *, subscription: Subscription, by: AbstractBaseUser, ip_address: str | None = None
) -> None:
    """Remove a webhook and its delivery log."""
    if subscription.project is not None:
        record_project_event(
            project=subscription.project,
            tag=WEBHOOK_REMOVE,
            user=by,
            ip_address=ip_address,
            url=subscription.url,
        )
    subscription.delete()
