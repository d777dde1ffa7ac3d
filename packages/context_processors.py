"""Template context shared by every page."""

from __future__ import annotations

from django.http import HttpRequest

from packages import flags


def site_banners(request: HttpRequest) -> dict[str, list[str]]:
    """The banners of the enabled site flags (cached; see packages/flags.py)."""
    return {"site_banners": flags.banners()}
