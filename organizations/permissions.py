"""Who may do what to an organization, answered in one place (the project half of the rule is
packages/permissions.py's). Each `*_denial` returns the message to show, or None when allowed.

| Action                                   | Owner | Manager | Member | other |
|------------------------------------------|-------|---------|--------|-------|
| see members, teams, projects, history    | yes   | yes     | yes    | no    |
| invite, change, remove members           | yes   | no      | no     | no    |
| create and delete teams, team members    | yes   | yes     | no     | no    |
| leave (remove own role)                  | yes*  | yes     | yes    | -     |
| Owner of every project it owns           | yes   | no      | no     | no    |
| remove a project from it (made personal) | yes   | no      | no     | no    |
| delete it (once it owns no projects)     | yes** | no      | no     | no    |

* never the last Owner (organizations/membership.py enforces that). Changes need the
organization approved and not frozen; seeing it only needs a role.
** also while it awaits approval, never while frozen (staff delete any in the admin).
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from accounts.access import standing_denial
from accounts.freezing import is_frozen
from organizations.models import Organization, OrganizationRole, OrganizationRoleName

User = AbstractBaseUser | AnonymousUser
Role = OrganizationRoleName


def role_of(*, user: User, organization: Organization) -> str | None:
    """The user's role in the organization, whatever its standing, or None."""
    if not user.is_authenticated or not user.is_active:
        return None
    return (
        OrganizationRole.objects.filter(user=user, organization=organization)
        .values_list("role_name", flat=True)
        .first()
    )


def _standing(organization: Organization) -> str | None:
    if organization.status == Organization.Status.PENDING:
        return f"Organization '{organization.name}' is awaiting approval by the index staff."
    if organization.status == Organization.Status.DECLINED:
        return f"Organization '{organization.name}' was declined."
    if not organization.is_active:
        return f"Organization '{organization.name}' is frozen by the index staff."
    return None


def _denial(
    *, user: User, organization: Organization, roles: set[str], pending_too: bool = False
) -> str | None:
    if not user.is_authenticated:
        return "You must log in first."
    role = role_of(user=user, organization=organization)
    if role not in roles:
        wanted = " or ".join(sorted(roles))
        return (
            f"The user '{user.get_username()}' isn't {'an' if wanted[0] == 'O' else 'a'} "
            f"{wanted} of organization '{organization.name}'."
        )
    if is_frozen(user):
        return f"The user '{user.get_username()}' is frozen."
    pending = organization.status == Organization.Status.PENDING and organization.is_active
    if not (pending_too and pending) and (message := _standing(organization)):
        return message
    return standing_denial(user)


def see_organization_denial(*, user: User, organization: Organization) -> str | None:
    """Any member sees the management pages (members, teams, history), also while the
    organization awaits approval or is frozen."""
    if not user.is_authenticated:
        return "You must log in first."
    if role_of(user=user, organization=organization) is None:
        return (
            f"The user '{user.get_username()}' isn't a member of organization "
            f"'{organization.name}'."
        )
    return None


def manage_members_denial(*, user: User, organization: Organization) -> str | None:
    return _denial(user=user, organization=organization, roles={Role.OWNER})


def manage_teams_denial(*, user: User, organization: Organization) -> str | None:
    return _denial(user=user, organization=organization, roles={Role.OWNER, Role.MANAGER})


def owner_denial(*, user: User, organization: Organization) -> str | None:
    """Owner powers: members, and bringing projects into the organization."""
    return manage_members_denial(user=user, organization=organization)


def remove_project_denial(*, user: User, organization: Organization) -> str | None:
    """Giving one of its projects back to a member as a personal project (packages/ownership.py
    checks the project and the new Owner)."""
    return owner_denial(user=user, organization=organization)


def delete_organization_denial(*, user: User, organization: Organization) -> str | None:
    """Its Owners delete it, also a request still awaiting approval; a frozen one stays for the
    staff to decide (organizations/registration.py refuses while it owns projects)."""
    return _denial(user=user, organization=organization, roles={Role.OWNER}, pending_too=True)


def leave_denial(*, user: User, organization: Organization) -> str | None:
    return see_organization_denial(user=user, organization=organization)
