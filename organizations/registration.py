"""Creating an organization, editing its public details, and deleting it once it owns nothing.

With ORGANIZATIONS_REQUIRE_APPROVAL on (the public index's way) a new organization waits for
staff (organizations/moderation.py) and grants nothing until approved; off (the default, for an
index whose users are the operator's own people) it is approved at once. Either way its name is
taken from the moment it is asked for, and its creator is its first Owner.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone
from packaging.utils import InvalidName

from organizations.events import STAFF_REASON, EventTag, record_organization_event
from organizations.membership import MembershipError
from organizations.models import Organization, OrganizationRole, OrganizationRoleName
from organizations.names import lookup_organization_name, normalize_organization_name

NAME_TAKEN = (
    "This organization account name has already been used. Choose a different organization "
    "account name."
)


def find_organization(name: str, *, include_declined: bool = False) -> Organization | None:
    """The organization any spelling of `name` names (declined requests left out)."""
    normalized = lookup_organization_name(name)
    if normalized is None:
        return None
    organizations = Organization.objects.filter(normalized_name=normalized)
    if not include_declined:
        organizations = organizations.exclude(status=Organization.Status.DECLINED)
    return organizations.order_by("-pk").first()


def check_name(name: str) -> str:
    """The normalized name, or MembershipError saying why `name` cannot be used."""
    try:
        normalized = normalize_organization_name(name)
    except InvalidName:
        raise MembershipError(
            "The organization name is invalid: use letters, digits, '.', '_' and '-', start "
            "and end with a letter or digit, at most 50 characters."
        ) from None
    if find_organization(name) is not None:
        raise MembershipError(NAME_TAKEN)
    return normalized


def create_organization(
    *,
    name: str,
    display_name: str,
    link_url: str,
    description: str,
    by: AbstractBaseUser,
    ip_address: str | None = None,
) -> Organization:
    """1. Check the name. 2. Create the organization (approved unless staff must review it)
    with its creator as Owner. 3. Record the event."""
    normalized = check_name(name)
    needs_review = settings.ORGANIZATIONS_REQUIRE_APPROVAL
    try:
        with transaction.atomic():
            organization = Organization.objects.create(
                name=name,
                normalized_name=normalized,
                display_name=display_name,
                link_url=link_url,
                description=description,
                created_by=by,
                status=(
                    Organization.Status.PENDING if needs_review else Organization.Status.APPROVED
                ),
                reviewed_at=None if needs_review else timezone.now(),
            )
            OrganizationRole.objects.create(
                user=by, organization=organization, role_name=OrganizationRoleName.OWNER
            )
            record_organization_event(
                organization=organization,
                tag=EventTag.CREATE,
                user=by,
                ip_address=ip_address,
                display_name=display_name,
                status=organization.status,
            )
    except IntegrityError:  # the same name asked for at the same moment
        raise MembershipError(NAME_TAKEN) from None
    return organization


@transaction.atomic
def update_organization(
    *,
    organization: Organization,
    display_name: str,
    link_url: str,
    description: str,
    by: AbstractBaseUser,
    ip_address: str | None = None,
) -> Organization:
    """The public details; the name itself does not change (it is in every URL)."""
    changed = {
        field: value
        for field, value in (
            ("display_name", display_name),
            ("link_url", link_url),
            ("description", description),
        )
        if getattr(organization, field) != value
    }
    if not changed:
        return organization
    Organization.objects.filter(pk=organization.pk).update(**changed)
    for field, value in changed.items():
        setattr(organization, field, value)
    record_organization_event(
        organization=organization,
        tag=EventTag.UPDATE,
        user=by,
        ip_address=ip_address,
        changed=sorted(changed),
    )
    return organization


@transaction.atomic
def delete_organization(
    *,
    organization: Organization,
    by: AbstractBaseUser | None,
    ip_address: str | None = None,
    reason: str = "",
) -> None:
    """Delete an organization that owns no projects (PyPI's rule: its Owners move or remove
    them first). Its roles, teams and invitations go with it; its history stays, under its
    name, for staff (the events' link to it is cleared). `reason` is staff's, kept for staff.

    Projects deleted while it owned them keep their rows for the point-in-time view and still
    point at it; they are left with no organization, and their personal roles."""
    locked = Organization.objects.select_for_update().get(pk=organization.pk)
    # Counted under the lock: moving a project in locks the organization too.
    if locked.projects.exists():
        raise MembershipError(
            f"Organization '{locked.name}' still owns projects: remove them from it first."
        )
    locked.projects(manager="all_objects").update(organization=None)
    record_organization_event(
        organization=locked,
        tag=EventTag.DELETE,
        user=by,
        ip_address=ip_address,
        **({STAFF_REASON: reason} if reason else {}),
    )
    locked.delete()
