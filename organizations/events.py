"""An organization's audit history: the one function every writer calls to add to it."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser

from accounts.actors import actor_name
from organizations.models import Organization, OrganizationEvent


class EventTag:
    # Warehouse's names for organization and team events.
    CREATE = "organization:create"
    APPROVE = "organization:approve"
    DECLINE = "organization:decline"
    FREEZE = "organization:freeze"
    UNFREEZE = "organization:unfreeze"
    UPDATE = "organization:update"
    DELETE = "organization:delete"
    ROLE_INVITE = "organization:organization_role:invite"
    ROLE_ADD = "organization:organization_role:add"
    ROLE_CHANGE = "organization:organization_role:change"
    ROLE_REMOVE = "organization:organization_role:remove"
    ROLE_DECLINE_INVITE = "organization:organization_role:decline_invite"
    ROLE_REVOKE_INVITE = "organization:organization_role:revoke_invite"
    TEAM_CREATE = "organization:team:create"
    TEAM_DELETE = "organization:team:delete"
    TEAM_MEMBER_ADD = "organization:team:member:add"
    TEAM_MEMBER_REMOVE = "organization:team:member:remove"
    # Written by packages (it owns projects' rows) through record_organization_event.
    PROJECT_ADD = "organization:organization_project:add"
    PROJECT_REMOVE = "organization:organization_project:remove"
    TEAM_PROJECT_ROLE_ADD = "organization:team_project_role:add"
    TEAM_PROJECT_ROLE_CHANGE = "organization:team_project_role:change"
    TEAM_PROJECT_ROLE_REMOVE = "organization:team_project_role:remove"


# A key for a reason only staff may read; members' history pages leave it out.
STAFF_REASON = "staff_reason"


def record_organization_event(
    *,
    organization: Organization,
    tag: str,
    user: AbstractBaseUser | None,
    ip_address: str | None = None,
    **additional: object,
) -> OrganizationEvent:
    by = user if user is not None and user.is_authenticated else None
    return OrganizationEvent.objects.create(
        organization=organization if organization.pk else None,
        organization_name=organization.name,
        tag=tag,
        user=by,
        ip_address=ip_address or None,
        additional={"submitted_by": actor_name(by), **additional},
    )
