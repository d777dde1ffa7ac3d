from __future__ import annotations

from django import template

from trusted_publishing.models import PublisherFields
from trusted_publishing.publishers import publisher_kinds_fields

register = template.Library()


@register.simple_tag
def publisher_rows(publisher: PublisherFields) -> list[tuple[str, str]]:
    return publisher_kinds_fields(publisher)
