"""Template helpers for the site's pages: `{% load pages %}`."""

from __future__ import annotations

from django import template
from django.conf import settings

from packages.rendering import describe_user_agent

register = template.Library()


@register.simple_tag
def site_url() -> str:
    """This index's absolute origin (no trailing slash), for commands people copy: the
    configured SITE_URL, never the request's Host."""
    return settings.SITE_URL


register.filter("user_agent", describe_user_agent)
