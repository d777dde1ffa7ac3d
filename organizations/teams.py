"""Teams: named groups of an organization's members. A team's roles on the organization's
projects are packages' rows (TeamProjectRole); here are the teams and who is in them."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from packaging.utils import InvalidName

from organizations.events import EventTag, record_organization_event
from organizations.membership import MembershipError
from organizations.models import Organization, OrganizationRole, Team, TeamMember
from organizations.names import normalize_team_name


def find_team(*, organization: Organization, name: str) -> Team | None:
    try:
        normalized = normalize_team_name(name)
    except InvalidName:
        return None
    return Team.objects.filter(organization=organization, normalized_name=normalized).first()


def create_team(
    *, organization: Organization, name: str, by: AbstractBaseUser, ip_address: str | None = None
) -> Team:
    name = name.strip()
    try:
        normalized = normalize_team_name(name)
    except InvalidName:
        raise MembershipError(
            "The team name is invalid: 1 to 50 characters, no '/', not starting or ending "
            "with a space, '.', '_' or '-'."
        ) from None
    try:
        with transaction.atomic():
            team = Team.objects.create(
                organization=organization, name=name, normalized_name=normalized
            )
            record_organization_event(
                organization=organization,
                tag=EventTag.TEAM_CREATE,
                user=by,
                ip_address=ip_address,
                team=name,
            )
    except IntegrityError:
        raise MembershipError(f"The organization already has a team named '{name}'.") from None
    return team


@transaction.atomic
def delete_team(*, team: Team, by: AbstractBaseUser, ip_address: str | None = None) -> None:
    """The team, its members and (by cascade) its roles on projects."""
    team.delete()
    record_organization_event(
        organization=team.organization,
        tag=EventTag.TEAM_DELETE,
        user=by,
        ip_address=ip_address,
        team=team.name,
    )


@transaction.atomic
def add_team_member(
    *, team: Team, username: str, by: AbstractBaseUser, ip_address: str | None = None
) -> TeamMember:
    """Only the organization's members join its teams."""
    role = (
        OrganizationRole.objects.filter(
            organization=team.organization, user__username__iexact=username.strip()[:150]
        )
        .select_related("user")
        .first()
    )
    if role is None:
        raise MembershipError(f"'{username}' is not a member of the organization.")
    member, created = TeamMember.objects.get_or_create(team=team, user=role.user)
    if not created:
        raise MembershipError(f"'{role.user.get_username()}' is already in team '{team.name}'.")
    record_organization_event(
        organization=team.organization,
        tag=EventTag.TEAM_MEMBER_ADD,
        user=by,
        ip_address=ip_address,
        team=team.name,
        target_user=role.user.get_username(),
    )
    return member


@transaction.atomic
def remove_team_member(
    *, member: TeamMember, by: AbstractBaseUser, ip_address: str | None = None
) -> None:
    member.delete()
    record_organization_event(
        organization=member.team.organization,
        tag=EventTag.TEAM_MEMBER_REMOVE,
        user=by,
        ip_address=ip_address,
        team=member.team.name,
        target_user=member.user.get_username(),
    )
