"""Template helpers for the site's pages: `{% load pages %}`."""

from __future__ import annotations

from django import template
from django.conf import settings

from packages.rendering import describe_user_agent

register = template.Library()


@register.simple_tag
def site_url() -> str:
    """This index's absolute origin (no trailing slash), for commands people copy: the request's
    host may be an internal name behind a proxy, so the configured one is used."""
    return getattr(settings, "SITE_URL", "http://127.0.0.1:8000").rstrip("/")


register.filter("user_agent", describe_user_agent)
