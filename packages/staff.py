"""Staff roles as Django groups, as Warehouse splits moderators from administrators.

- "moderators" act on projects (quarantine, size limits), names (prohibit) and users (freeze),
  and can read everything else in admin.
- "administrators" can do everything: remove projects, releases and files, reset passwords,
  switch site flags, and edit users and groups.

Make someone staff by ticking "Staff status" and adding them to one group. The groups are
created (idempotently, adding any missing permission) after every `migrate`.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.contrib.auth.models import Group, Permission
from django.db.models import Q

from packages.models import AdminFlag

MODERATORS = "moderators"
ADMINISTRATORS = "administrators"

# The apps whose models staff see in admin.
STAFF_APPS = (
    "packages",
    "accounts",
    "organizations",
    "webhooks",
    "proxy",
    "auth",
    "admin",
    "django_rq",
)

# (app label, codename) beyond "view" on every model of STAFF_APPS.
MODERATOR_PERMISSIONS = {
    ("packages", "change_project"),
    ("packages", "add_prohibitedprojectname"),
    ("packages", "change_prohibitedprojectname"),
    ("packages", "delete_prohibitedprojectname"),
    ("accounts", "change_account"),
    ("organizations", "change_organization"),
    # The upstream proxy: block and purge upstream names, allow local names, age exemptions.
    ("proxy", "add_upstreamproject"),
    ("proxy", "change_upstreamproject"),
    ("proxy", "add_allowedlocalname"),
    ("proxy", "change_allowedlocalname"),
    ("proxy", "delete_allowedlocalname"),
    ("packages", "add_releaseageexemption"),
    ("packages", "change_releaseageexemption"),
    ("packages", "delete_releaseageexemption"),
}


def _permissions(query: Q) -> list[Permission]:
    return list(Permission.objects.filter(query).select_related("content_type"))


def setup_staff_groups(*, using: str = "default") -> dict[str, int]:
    """Create both groups and add their permissions; returns the permissions each group has."""
    # Permissions are made by auth's own post_migrate handler, app by app; make sure those of
    # apps migrated after this one exist too.
    for config in global_apps.get_app_configs():
        if config.label in STAFF_APPS:
            create_permissions(config, verbosity=0, using=using)
    in_staff_apps = Q(content_type__app_label__in=STAFF_APPS)
    moderator_query = in_staff_apps & Q(codename__startswith="view_")
    for app_label, codename in MODERATOR_PERMISSIONS:
        moderator_query |= Q(content_type__app_label=app_label, codename=codename)
    wanted = {
        MODERATORS: _permissions(moderator_query),
        ADMINISTRATORS: _permissions(in_staff_apps),
    }
    counts = {}
    for name, permissions in wanted.items():
        group, _created = Group.objects.using(using).get_or_create(name=name)
        group.permissions.add(*permissions)
        counts[name] = group.permissions.count()
    return counts


def create_flags(*, using: str = "default") -> None:
    """One row per site flag, off, so staff only ever switch them."""
    for flag in AdminFlag.Flag.values:
        AdminFlag.objects.using(using).get_or_create(id=flag)


def setup_staff_groups_after_migrate(*, using: str = "default", **kwargs: Any) -> None:
    setup_staff_groups(using=using)
    create_flags(using=using)
