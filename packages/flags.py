"""Site-wide admin flags (Warehouse `admin_flags`): read-only mode, no new uploads, no new
projects, no new users. Each flag can show a banner on every page.

Uploads ask the database each time (one query on a four-row table), so a flag takes effect on
every app server at once: read-only mode must really stop writes. Pages only show banners, so
they read a copy cached for a few seconds in the cache all workers share; saving a flag clears
it (see packages/apps.py).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.cache import cache

from packages.models import AdminFlag
from packages.permissions import Denial
from pypi_site.prepared import PreparedQuery

Flag = AdminFlag.Flag

CACHE_KEY = "admin-flags:enabled:v1"
# Short enough that a change made past the admin (a restored database) shows within seconds;
# long enough that pages cost no query.
CACHE_SECONDS = 10

DEFAULT_BANNERS = {
    Flag.READ_ONLY: "The index is in read-only mode: uploads are temporarily disabled.",
    Flag.DISALLOW_NEW_UPLOAD: "New uploads are temporarily disabled.",
    Flag.DISALLOW_NEW_PROJECT_REGISTRATION: "New project registration is temporarily disabled.",
    Flag.DISALLOW_NEW_USER_REGISTRATION: "New user registration is temporarily disabled.",
}


def enabled_flags(*, fresh: bool = False) -> dict[str, str]:
    """Enabled flag ids mapped to their banner text: from the cache (refreshed every
    CACHE_SECONDS), or with `fresh` from the database. A fresh read leaves the cache alone:
    every upload reads fresh, and rewriting the shared cache (a file write in the embedded
    default) each time cost more than the query."""
    if fresh:
        return _flags_from_database()
    flags = cache.get(CACHE_KEY)
    if flags is None:
        flags = _flags_from_database()
        cache.set(CACHE_KEY, flags, CACHE_SECONDS)
    return flags


def _flags_from_database() -> dict[str, str]:
    return dict(_ENABLED_FLAGS.rows())


# Every upload asks this; compiled once (pypi_site/prepared.py).
_ENABLED_FLAGS = PreparedQuery(
    lambda: AdminFlag.objects.filter(enabled=True).values_list("id", "banner")
)


def is_enabled(flag: str, *, fresh: bool = False) -> bool:
    return flag in enabled_flags(fresh=fresh)


def clear_cache() -> None:
    cache.delete(CACHE_KEY)


def banners() -> list[str]:
    """Banner texts of the enabled flags, in a stable order."""
    flags = enabled_flags()
    return [flags[f] or DEFAULT_BANNERS.get(f, f) for f in Flag.values if f in flags]


def set_flag(
    *, flag: str, enabled: bool, banner: str | None = None, by: AbstractBaseUser | None = None
) -> AdminFlag:
    """Switch a flag on or off (creating its row), optionally with a new banner."""
    row, _created = AdminFlag.objects.get_or_create(id=Flag(flag).value)
    row.enabled = enabled
    if banner is not None:
        row.banner = banner
    row.save()
    clear_cache()
    return row


def upload_denial() -> Denial | None:
    """Warehouse check 0b, before authentication: the site takes no uploads at all."""
    flags = enabled_flags(fresh=True)
    if Flag.READ_ONLY in flags:
        return Denial("Read-only mode: Uploads are temporarily disabled.")
    if Flag.DISALLOW_NEW_UPLOAD in flags:
        return Denial(
            "New uploads are temporarily disabled. "
            f"See {settings.HELP_URL}#admin-intervention for more information."
        )
    return None


def project_registration_denial() -> Denial | None:
    """Part of Warehouse check 6: an upload that would create a project."""
    if is_enabled(Flag.DISALLOW_NEW_PROJECT_REGISTRATION, fresh=True):
        return Denial(
            "New project registration temporarily disabled. "
            f"See {settings.HELP_URL}#admin-intervention for more details."
        )
    return None
