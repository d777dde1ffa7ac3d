from __future__ import annotations

from django.apps import AppConfig
from django.db.models.signals import post_save


class WebhooksConfig(AppConfig):
    name = "webhooks"

    def ready(self) -> None:
        from packages.models import ProjectEvent
        from webhooks.events import on_project_event

        # Every change webhooks report is already a ProjectEvent (packages/events.py); packages
        # stays unaware of webhooks, and a subscriber sees exactly the project's history.
        post_save.connect(on_project_event, sender=ProjectEvent, dispatch_uid="webhooks")
