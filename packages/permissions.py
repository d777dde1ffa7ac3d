"""Every "may this identity do X to this project?" question, answered in one place.

Views, the upload endpoint, admin and commands all ask here. An answer is a `Denial` with the
message to show, or None when the action is allowed. The account half (frozen, verified
address, 2FA) comes from accounts.access.standing_denial; the project half (roles, token scope)
is here. Roles are read at the moment of asking, so a token or session stops working for a
project as soon as its user loses the role.

| Action                      | Owner | Maintainer | other user |
|-----------------------------|-------|------------|------------|
| upload                      | yes   | yes        | no         |
| manage, delete, yank        | yes   | no         | no         |
| archive, unarchive          | yes   | no         | no         |
| invite, change, remove roles| yes   | no         | no         |
| remove (leave) own role     | yes*  | yes        | -          |

* never the last Owner (packages/collaboration.py enforces that).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import OuterRef, Q
from django.utils import timezone

from accounts.access import Standing, standing_denial, standing_expressions, standing_of
from accounts.models import ApiToken
from packages.models import File, Project, ReleaseAgeExemption, Role, RoleName


@dataclass(frozen=True)
class Denial:
    message: str


User = AbstractBaseUser | AnonymousUser


def _role_and_standing(*, user: User, project: Project) -> tuple[str | None, Standing | None]:
    """The user's role on the project and, when they have one, their account standing: one
    query, so pages that ask for every row stay cheap."""
    if not user.is_authenticated:
        return None, None
    row = (
        Role.objects.filter(user=user, project=project)
        .values("role_name", **standing_expressions(OuterRef("user_id")))
        .first()
    )
    if row is None:
        return None, None
    role_name = row.pop("role_name")
    return role_name, Standing(**row)


def _frozen(user: User) -> Denial:
    return Denial(f"The user '{user.get_username()}' is frozen.")


def upload_denial(*, user: User, project: Project, token: ApiToken | None = None) -> Denial | None:
    """Owners and Maintainers upload; a project-scoped token only to its own projects; then the
    account must be in standing (PyPI's checks 7 and 8, in that order). An archived project
    grants nobody upload, with PyPI's message for a missing permission."""
    if token is not None and token.scoped and not token.projects.filter(pk=project.pk).exists():
        return Denial(
            f"Invalid API Token: project-scoped token is not valid for project: '{project.name}'"
        )
    role_name, standing = _role_and_standing(user=user, project=project)
    if role_name is None or project.is_archived:
        name = user.get_username() if user.is_authenticated else ""
        return Denial(
            f"The user '{name}' isn't allowed to upload to project "
            f"'{project.name}'. See {settings.HELP_URL}#project-name for more information."
        )
    if standing.frozen or not user.is_active:
        return _frozen(user)
    if message := standing_denial(user, uploading=True, standing=standing):
        return Denial(message)
    return None


def create_project_denial(*, user: User, token: ApiToken | None = None) -> Denial | None:
    """Only user-wide tokens create projects; a scoped token names projects that already exist.
    (The per-user and per-IP creation limit is uploads' to apply, with a 429.)"""
    if not user.is_authenticated:
        return Denial("You must log in first.")
    if token is not None and token.scoped:
        return Denial("Invalid API Token: project-scoped token cannot create new projects.")
    standing = standing_of(user)
    if standing.frozen or not user.is_active:
        return _frozen(user)
    if message := standing_denial(user, uploading=True, standing=standing):
        return Denial(message)
    return None


def manage_denial(*, user: User, project: Project) -> Denial | None:
    """Settings, releases, yank, delete and roles belong to Owners in good standing."""
    if not user.is_authenticated:
        return Denial("You must log in first.")
    role_name, standing = _role_and_standing(user=user, project=project)
    if role_name != RoleName.OWNER:
        return Denial(
            f"The user '{user.get_username()}' isn't an Owner of project '{project.name}'."
        )
    if standing.frozen or not user.is_active:
        return _frozen(user)
    if message := standing_denial(user, standing=standing):
        return Denial(message)
    return None


def archive_denial(*, user: User, project: Project) -> Denial | None:
    """Archiving and unarchiving are Owners' settings."""
    return manage_denial(user=user, project=project)


def change_roles_denial(*, user: User, project: Project) -> Denial | None:
    """Inviting collaborators, changing roles, removing others, revoking invitations."""
    return manage_denial(user=user, project=project)


def remove_role_denial(*, user: User, role: Role) -> Denial | None:
    """Owners remove anyone's role; everyone may remove (leave) their own."""
    if user.is_authenticated and role.user_id == user.pk:
        return see_collaborators_denial(user=user, project=role.project)
    return change_roles_denial(user=user, project=role.project)


def see_collaborators_denial(*, user: User, project: Project) -> Denial | None:
    """Any member may see who else has a role (and leave); Owners also manage them."""
    if not user.is_authenticated:
        return Denial("You must log in first.")
    role_name, standing = _role_and_standing(user=user, project=project)
    if role_name is None:
        return Denial(f"The user '{user.get_username()}' has no role on project '{project.name}'.")
    if standing.frozen or not user.is_active:
        return _frozen(user)
    return None


def see_project_denial(*, user: User, project: Project) -> Denial | None:
    """A quarantined project (and its files) is hidden from everyone but its members, while
    their account is not frozen, and staff; every other project is public."""
    if not project.is_quarantined:
        return None
    if user.is_authenticated and user.is_active and user.is_staff:
        return None
    role_name, standing = _role_and_standing(user=user, project=project)
    if role_name is None or standing.frozen or not user.is_active:
        return Denial(f"Project '{project.name}' is quarantined.")
    return None


# --- Release age (MIN_RELEASE_AGE): what a reader may see of an upstream project -------------


@dataclass(frozen=True)
class ReleaseAgePolicy:
    """Upstream files uploaded after `cutoff` (or with no upload-time, unless allowed) are
    hidden, except in the `exempt_versions` (canonical) staff exempted."""

    cutoff: datetime
    exempt_versions: frozenset[str]

    def hides(self, *, upstream_upload_time: datetime | None, canonical_version: str) -> bool:
        if canonical_version in self.exempt_versions:
            return False
        if upstream_upload_time is None:
            return not settings.MIN_RELEASE_AGE_ALLOW_UNKNOWN
        return upstream_upload_time > self.cutoff


def release_age_policy(*, project: Project) -> ReleaseAgePolicy | None:
    """None when the policy hides nothing of this project: a local project (never affected),
    MIN_RELEASE_AGE off, or a project-wide exemption that has not expired."""
    if not settings.MIN_RELEASE_AGE or not project.is_upstream:
        return None
    now = timezone.now()
    exempt = set(
        ReleaseAgeExemption.objects.filter(
            normalized_name=project.normalized_name, expires__gt=now
        ).values_list("version", flat=True)
    )
    if "" in exempt:
        return None
    return ReleaseAgePolicy(
        cutoff=now - timedelta(seconds=settings.MIN_RELEASE_AGE), exempt_versions=frozenset(exempt)
    )


def hidden_file_ids(*, project: Project) -> frozenset[int]:
    """The project's files the release-age policy hides now: one query, on upstream projects
    only. Pages are cached under this set, so a file appears once it is old enough."""
    policy = release_age_policy(project=project)
    if policy is None:
        return frozenset()
    young = Q(upstream_upload_time__gt=policy.cutoff)
    if not settings.MIN_RELEASE_AGE_ALLOW_UNKNOWN:
        young |= Q(upstream_upload_time__isnull=True)
    rows = File.objects.filter(young, release__project=project).values_list(
        "id", "upstream_upload_time", "release__canonical_version"
    )
    return frozenset(
        pk
        for pk, uploaded, version in rows
        if policy.hides(upstream_upload_time=uploaded, canonical_version=version)
    )


def file_age_denial(*, project: Project, file: File) -> Denial | None:
    """403 for a file URL the release-age policy hides, naming the age and the policy."""
    policy = release_age_policy(project=project)
    if policy is None:
        return None
    canonical = file.release.canonical_version
    if not policy.hides(
        upstream_upload_time=file.upstream_upload_time, canonical_version=canonical
    ):
        return None
    hours = settings.MIN_RELEASE_AGE / 3600
    policy_text = (
        f"this index serves upstream files once they are {hours / 24:g} days old (MIN_RELEASE_AGE)"
        if hours >= 24
        else f"this index serves upstream files once they are {hours:g} hours old (MIN_RELEASE_AGE)"
    )
    if file.upstream_upload_time is None:
        return Denial(
            f"{file.filename} is held back by the release-age policy: the upstream index gives "
            f"no upload time for it, so its age is unknown, and {policy_text}."
        )
    age_hours = (timezone.now() - file.upstream_upload_time).total_seconds() / 3600
    return Denial(
        f"{file.filename} is held back by the release-age policy: it was uploaded upstream "
        f"{age_hours:.1f} hours ago, and {policy_text}."
    )
