"""Projects owned by organizations: moving a personal project into an organization and out of
it again, and the roles the organization's teams hold on its projects. Each change is
journaled, kept in the project's history (ProjectEvent) and in the organization's
(OrganizationEvent).

Who may do these is packages/permissions.py's (taking a project out of an organization is its
Owners' power: organizations/permissions.py); the rules here are about the rows' state (the
team belongs to the project's organization, the organization is in good standing).
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from organizations.events import EventTag as OrganizationTag
from organizations.events import record_organization_event
from organizations.models import Organization, OrganizationRole, Team
from packages.events import EventTag, record_project_event
from packages.journal import record_change
from packages.models import Project, Role, RoleName, TeamProjectRole


class OwnershipError(ValueError):
    """A change that cannot be made as asked; the message is for the user."""


@transaction.atomic
def transfer_project(
    *,
    project: Project,
    organization: Organization,
    by: AbstractBaseUser,
    ip_address: str | None = None,
) -> Project:
    """Move a project into `organization` (from no organization or another one). Personal roles
    stay; roles held by the previous organization's teams go with it."""
    locked = (
        Project.objects.select_for_update(of=("self",))
        .select_related("organization")
        .get(pk=project.pk)
    )
    organization = Organization.objects.select_for_update().get(pk=organization.pk)
    if not organization.in_good_standing:
        raise OwnershipError(f"Organization '{organization.name}' cannot own projects now.")
    previous = locked.organization
    if previous is not None and previous.pk == organization.pk:
        raise OwnershipError(f"Project '{project.name}' already belongs to '{organization.name}'.")
    TeamProjectRole.objects.filter(project=project).delete()
    Project.objects.filter(pk=project.pk).update(organization=organization)
    project.organization = organization
    record_change(project=project, action=f"add organization {organization.name}", user=by)
    record_project_event(
        project=project,
        tag=EventTag.ORGANIZATION_ADD,
        user=by,
        ip_address=ip_address,
        organization=organization.name,
        previous_organization=previous.name if previous else "",
    )
    record_organization_event(
        organization=organization,
        tag=OrganizationTag.PROJECT_ADD,
        user=by,
        ip_address=ip_address,
        project=project.name,
    )
    if previous is not None:
        record_organization_event(
            organization=previous,
            tag=OrganizationTag.PROJECT_REMOVE,
            user=by,
            ip_address=ip_address,
            project=project.name,
        )
    return project


def owner_choices(organization: Organization):
    """Who may take a project the organization lets go: its members whose account is active
    and not frozen (a project handed to a frozen account would have no Owner able to act)."""
    return (
        OrganizationRole.objects.filter(organization=organization, user__is_active=True)
        .exclude(user__account__is_frozen=True)
        .select_related("user")
    )


@transaction.atomic
def remove_project_from_organization(
    *,
    project: Project,
    organization: Organization,
    owner: AbstractBaseUser,
    by: AbstractBaseUser,
    ip_address: str | None = None,
) -> Project:
    """Make one of the organization's projects personal again, as PyPI lets an organization's
    Owners do.

    1. `owner`, a member of the organization, becomes (or stays) a personal Owner, so the
       project is never left without one; other personal roles stay as they are.
    2. The organization's teams lose their roles on it, and its Owners their powers over it.
    3. The project's journal and history and the organization's history note it.
    """
    locked = Project.objects.select_for_update(of=("self",)).get(pk=project.pk)
    organization = Organization.objects.select_for_update().get(pk=organization.pk)
    if locked.organization_id != organization.pk:
        raise OwnershipError(f"Project '{project.name}' doesn't belong to '{organization.name}'.")
    if not owner_choices(organization).filter(user=owner).exists():
        raise OwnershipError(
            f"The user '{owner.get_username()}' isn't a member of organization "
            f"'{organization.name}'."
        )
    team_roles = TeamProjectRole.objects.filter(project=project).select_related("team")
    dropped = sorted(f"{role.team.name} ({role.role_name})" for role in team_roles)
    team_roles.delete()
    role, created = Role.objects.get_or_create(
        user=owner, project=project, defaults={"role_name": RoleName.OWNER}
    )
    previous_role = None if created else role.role_name
    if role.role_name != RoleName.OWNER:
        Role.objects.filter(pk=role.pk).update(role_name=RoleName.OWNER)
    Project.objects.filter(pk=project.pk).update(organization=None)
    project.organization = None
    name = owner.get_username()
    record_change(project=project, action=f"remove organization {organization.name}", user=by)
    if previous_role is None:
        record_change(project=project, action=f"add Owner {name}", user=by)
    elif previous_role != RoleName.OWNER:
        record_change(project=project, action=f"change {previous_role} {name} to Owner", user=by)
    record_project_event(
        project=project,
        tag=EventTag.ORGANIZATION_REMOVE,
        user=by,
        ip_address=ip_address,
        organization=organization.name,
        owner=name,
        removed_team_roles=dropped,
    )
    record_organization_event(
        organization=organization,
        tag=OrganizationTag.PROJECT_REMOVE,
        user=by,
        ip_address=ip_address,
        project=project.name,
        owner=name,
        removed_team_roles=dropped,
    )
    return project


def teams_for(project: Project):
    """The teams that may get a role on the project: its organization's."""
    if project.organization_id is None:
        return Team.objects.none()
    return Team.objects.filter(organization_id=project.organization_id).order_by("normalized_name")


@transaction.atomic
def set_team_role(
    *,
    project: Project,
    team: Team,
    role_name: str,
    by: AbstractBaseUser,
    ip_address: str | None = None,
) -> TeamProjectRole:
    """Give `team` Owner or Maintainer on the project, or change the role it has."""
    role_name = RoleName(role_name)
    if project.organization_id is None or team.organization_id != project.organization_id:
        raise OwnershipError(f"Team '{team.name}' is not in the organization owning the project.")
    role = TeamProjectRole.objects.select_for_update().filter(team=team, project=project).first()
    previous = role.role_name if role else None
    if previous == role_name:
        return role
    if role is None:
        role = TeamProjectRole.objects.create(team=team, project=project, role_name=role_name)
    else:
        role.role_name = role_name
        role.save(update_fields=["role_name"])
    verb = "add" if previous is None else f"change {previous}"
    record_change(project=project, action=f"{verb} team {team.name} {role_name}".strip(), user=by)
    details = {"team": team.name, "role_name": role_name}
    if previous:
        details["previous_role_name"] = previous
    record_project_event(
        project=project,
        tag=EventTag.TEAM_ROLE_ADD if previous is None else EventTag.TEAM_ROLE_CHANGE,
        user=by,
        ip_address=ip_address,
        **details,
    )
    record_organization_event(
        organization=team.organization,
        tag=(
            OrganizationTag.TEAM_PROJECT_ROLE_ADD
            if previous is None
            else OrganizationTag.TEAM_PROJECT_ROLE_CHANGE
        ),
        user=by,
        ip_address=ip_address,
        project=project.name,
        **details,
    )
    return role


@transaction.atomic
def remove_team_role(
    *, role: TeamProjectRole, by: AbstractBaseUser, ip_address: str | None = None
) -> None:
    role = (
        TeamProjectRole.objects.select_for_update(of=("self",))
        .select_related("project", "team__organization")
        .get(pk=role.pk)
    )
    role.delete()
    record_change(
        project=role.project, action=f"remove team {role.team.name} {role.role_name}", user=by
    )
    details = {"team": role.team.name, "role_name": role.role_name}
    record_project_event(
        project=role.project,
        tag=EventTag.TEAM_ROLE_REMOVE,
        user=by,
        ip_address=ip_address,
        **details,
    )
    record_organization_event(
        organization=role.team.organization,
        tag=OrganizationTag.TEAM_PROJECT_ROLE_REMOVE,
        user=by,
        ip_address=ip_address,
        project=role.project.name,
        **details,
    )
