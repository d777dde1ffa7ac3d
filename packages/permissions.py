"""Every "may this identity do X to this project?" question, answered in one place.

Views, the upload endpoint, admin and commands all ask here. An answer is a `Denial` with the
message to show, or None when the action is allowed.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser

from accounts.models import ApiToken
from packages.models import Project, Role, RoleName


@dataclass(frozen=True)
class Denial:
    message: str


def role_of(*, user: AbstractBaseUser, project: Project) -> str | None:
    return (
        Role.objects.filter(user=user, project=project).values_list("role_name", flat=True).first()
    )


def can_upload(
    *, user: AbstractBaseUser, project: Project, token: ApiToken | None = None
) -> Denial | None:
    """Owners and Maintainers upload; a project-scoped token only to its own projects."""
    if token is not None:
        scoped_ids = {p.pk for p in token.projects.all()}
        if scoped_ids and project.pk not in scoped_ids:
            return Denial(
                "Invalid API Token: project-scoped token is not valid for project: "
                f"'{project.name}'"
            )
    if role_of(user=user, project=project) is None:
        return Denial(
            f"The user '{user.get_username()}' isn't allowed to upload to project "
            f"'{project.name}'. See {settings.HELP_URL}#project-name for more information."
        )
    return None


def can_create_project(*, user: AbstractBaseUser, token: ApiToken | None = None) -> Denial | None:
    """Only user-wide tokens create projects; a scoped token names projects that already exist."""
    if token is not None and token.projects.exists():
        return Denial("Invalid API Token: project-scoped token cannot create new projects.")
    return None


def can_manage(*, user: AbstractBaseUser, project: Project) -> Denial | None:
    """Yank, delete and role changes belong to Owners."""
    if role_of(user=user, project=project) != RoleName.OWNER:
        return Denial(
            f"The user '{user.get_username()}' isn't an Owner of project '{project.name}'."
        )
    return None
