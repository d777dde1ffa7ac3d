"""`{% load provenance %}{% file_provenance file as p %}`: a file's publisher summary for the
release page, which packages renders without knowing about this app's models."""

from __future__ import annotations

from django import template

from attestations.models import Provenance

register = template.Library()


@register.simple_tag
def file_provenance(file: object) -> Provenance | None:
    """One query, only for a file the simple API also lists with a provenance."""
    if not getattr(file, "has_provenance", False):
        return None
    return (
        Provenance.objects.filter(file_id=file.pk)
        .only("publisher_kind", "repository", "workflow", "environment")
        .first()
    )
