from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from attestations.models import Provenance


@admin.register(Provenance)
class ProvenanceAdmin(admin.ModelAdmin):
    """Read-only: provenance is written once, by a verified upload."""

    list_display = ["file", "publisher_kind", "repository", "workflow", "environment", "created"]
    list_filter = ["publisher_kind"]
    search_fields = ["file__filename", "repository"]
    readonly_fields = [
        "file",
        "publisher_kind",
        "repository",
        "workflow",
        "environment",
        "predicate_types",
        "body",
        "created",
    ]

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
