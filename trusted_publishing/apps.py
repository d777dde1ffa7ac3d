from __future__ import annotations

from django.apps import AppConfig


class TrustedPublishingConfig(AppConfig):
    name = "trusted_publishing"
    verbose_name = "Trusted publishing"
