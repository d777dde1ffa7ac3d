from __future__ import annotations

from django.apps import AppConfig


class AttestationsConfig(AppConfig):
    name = "attestations"
