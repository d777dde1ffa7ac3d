"""Members of an organization: Owners invite users by name (the invitee gets a mail with a
signed link), invitees accept or decline before the invitation expires, Owners change and remove
roles, and an organization never loses its last Owner. Each change is kept in the
organization's history (OrganizationEvent).

`is_member` and `member_organizations` are what read rules ask: an organization grants
nothing while it awaits approval, was declined or is frozen.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core import signing
from django.db import transaction
from django.utils import timezone

from accounts.emails import has_verified_primary_email, primary_email
from accounts.freezing import is_frozen
from accounts.mail import send_templated_mail
from organizations.events import EventTag, record_organization_event
from organizations.models import (
    Organization,
    OrganizationInvitation,
    OrganizationQuerySet,
    OrganizationRole,
    OrganizationRoleName,
    TeamMember,
)

INVITATION_SALT = "organizations.membership.invitation"
Status = OrganizationInvitation.Status


class MembershipError(ValueError):
    """A change that cannot be made as asked; the message is for the user."""


# --- What read rules ask --------------------------------------------------------------------


def member_organizations(user: AbstractBaseUser | AnonymousUser) -> OrganizationQuerySet:
    """The organizations in good standing in which `user` has any role, as a queryset to filter
    with (`Project.objects.filter(organization__in=member_organizations(user))`)."""
    if not user.is_authenticated or not user.is_active:
        return Organization.objects.none()
    return organizations_of_member_id(user.pk)


def organizations_of_member_id(user_id: int) -> OrganizationQuerySet:
    """`member_organizations` by the user's id, for a query written before the user is known
    (packages/permissions.py compiles its read check once); the caller checks the user."""
    return Organization.objects.in_good_standing().filter(roles__user_id=user_id)


def is_member(user: AbstractBaseUser | AnonymousUser, organization: Organization | None) -> bool:
    """Whether `user` has a role (Owner, Manager or Member) in `organization` while it is in
    good standing: the "organization's members may read its private projects" rule."""
    if organization is None or not organization.in_good_standing:
        return False
    return is_member_of_id(user, organization_id=organization.pk)


def is_member_of_id(user: AbstractBaseUser | AnonymousUser, *, organization_id: int | None) -> bool:
    """`is_member` for a bare `Project.organization_id`, in one query (standing included)."""
    if organization_id is None:
        return False
    return member_organizations(user).filter(pk=organization_id).exists()


# --- Invitations ----------------------------------------------------------------------------


def invitation_token(invitation: OrganizationInvitation) -> str:
    return signing.dumps(invitation.pk, salt=INVITATION_SALT)


def _expire_if_due(invitation: OrganizationInvitation) -> None:
    if invitation.status == Status.PENDING and invitation.expires <= timezone.now():
        OrganizationInvitation.objects.filter(pk=invitation.pk).update(status=Status.EXPIRED)
        invitation.status = Status.EXPIRED


def pending_invitations(
    *, organization: Organization | None = None, user: AbstractBaseUser | None = None
):
    """Invitations still open (expired ones are marked so on the way)."""
    OrganizationInvitation.objects.filter(
        status=Status.PENDING, expires__lte=timezone.now()
    ).update(status=Status.EXPIRED)
    invitations = OrganizationInvitation.objects.filter(status=Status.PENDING)
    if organization is not None:
        invitations = invitations.filter(organization=organization)
    if user is not None:
        invitations = invitations.filter(user=user)
    return invitations.select_related("organization", "user", "invited_by").order_by("created")


def find_invitation(*, token: str, user: AbstractBaseUser) -> OrganizationInvitation:
    """The pending invitation a link names, if it is addressed to `user`."""
    try:
        pk = signing.loads(token[:200], salt=INVITATION_SALT)
    except signing.BadSignature:
        raise MembershipError("Invalid invitation link.") from None
    invitation = (
        OrganizationInvitation.objects.select_related("organization", "invited_by")
        .filter(pk=pk, user=user)
        .first()
    )
    if invitation is None:
        raise MembershipError("Organization invitation not found.")
    _expire_if_due(invitation)
    if invitation.status != Status.PENDING:
        raise MembershipError(f"Organization invitation is {invitation.status}.")
    return invitation


@transaction.atomic
def invite_member(
    *,
    organization: Organization,
    username: str,
    role_name: str,
    invited_by: AbstractBaseUser,
    ip_address: str | None = None,
) -> OrganizationInvitation:
    """1. Find an active invitee with no role and no open invitation in the organization.
    2. Record the invitation and the event, and mail the invitee a link after the commit."""
    role_name = OrganizationRoleName(role_name)
    invitee = get_user_model().objects.filter(username__iexact=username.strip()[:150]).first()
    if invitee is None or not invitee.is_active or is_frozen(invitee):
        raise MembershipError(f"No user found with the username '{username}'.")
    name = invitee.get_username()
    existing = OrganizationRole.objects.filter(user=invitee, organization=organization).first()
    if existing is not None:
        raise MembershipError(f"User '{name}' is already {existing.role_name} of the organization.")
    if settings.REQUIRE_VERIFIED_EMAIL and not has_verified_primary_email(invitee):
        raise MembershipError(
            f"User '{name}' does not have a verified primary email address and cannot be invited."
        )
    if pending_invitations(organization=organization, user=invitee).exists():
        raise MembershipError(f"User '{name}' already has an active invite.")
    invitation = OrganizationInvitation.objects.create(
        user=invitee,
        organization=organization,
        role_name=role_name,
        invited_by=invited_by,
        expires=timezone.now() + timedelta(seconds=settings.ROLE_INVITATION_MAX_AGE),
    )
    record_organization_event(
        organization=organization,
        tag=EventTag.ROLE_INVITE,
        user=invited_by,
        ip_address=ip_address,
        role_name=role_name,
        target_user=name,
    )
    email = primary_email(invitee)
    if email is not None:
        context = {
            "invitation": invitation,
            "url": (
                f"{settings.SITE_URL}/account/verify-organization-role/"
                f"?token={invitation_token(invitation)}"
            ),
            "days": settings.ROLE_INVITATION_MAX_AGE // 86400,
        }
        transaction.on_commit(
            lambda: send_templated_mail(
                to=email.email, template="organization-invitation", context=context
            )
        )
    return invitation


@transaction.atomic
def accept_invitation(
    *, invitation: OrganizationInvitation, user: AbstractBaseUser, ip_address: str | None = None
) -> OrganizationRole:
    invitation = (
        OrganizationInvitation.objects.select_for_update()
        .select_related("organization")
        .get(pk=invitation.pk, user=user)
    )
    _expire_if_due(invitation)
    if invitation.status != Status.PENDING:
        raise MembershipError(f"Organization invitation is {invitation.status}.")
    organization = invitation.organization
    if not organization.in_good_standing:
        raise MembershipError(f"Organization '{organization.name}' is not accepting members.")
    role, _created = OrganizationRole.objects.get_or_create(
        user=user, organization=organization, defaults={"role_name": invitation.role_name}
    )
    invitation.status = Status.ACCEPTED
    invitation.save(update_fields=["status"])
    record_organization_event(
        organization=organization,
        tag=EventTag.ROLE_ADD,
        user=user,
        ip_address=ip_address,
        role_name=role.role_name,
        target_user=user.get_username(),
    )
    return role


@transaction.atomic
def decline_invitation(
    *, invitation: OrganizationInvitation, user: AbstractBaseUser, ip_address: str | None = None
) -> None:
    invitation = OrganizationInvitation.objects.select_for_update().get(pk=invitation.pk, user=user)
    if invitation.status != Status.PENDING:
        raise MembershipError(f"Organization invitation is {invitation.status}.")
    invitation.status = Status.DECLINED
    invitation.save(update_fields=["status"])
    record_organization_event(
        organization=invitation.organization,
        tag=EventTag.ROLE_DECLINE_INVITE,
        user=user,
        ip_address=ip_address,
        role_name=invitation.role_name,
        target_user=user.get_username(),
    )


@transaction.atomic
def revoke_invitation(
    *, invitation: OrganizationInvitation, by: AbstractBaseUser, ip_address: str | None = None
) -> None:
    updated = OrganizationInvitation.objects.filter(pk=invitation.pk, status=Status.PENDING).update(
        status=Status.REVOKED
    )
    if not updated:
        raise MembershipError("Organization invitation is no longer pending.")
    record_organization_event(
        organization=invitation.organization,
        tag=EventTag.ROLE_REVOKE_INVITE,
        user=by,
        ip_address=ip_address,
        role_name=invitation.role_name,
        target_user=invitation.user.get_username(),
    )


# --- Roles ----------------------------------------------------------------------------------


def _owner_count(organization: Organization) -> int:
    # Locked, so two Owners demoting each other at once cannot both succeed.
    return len(
        OrganizationRole.objects.select_for_update()
        .filter(organization=organization, role_name=OrganizationRoleName.OWNER)
        .values_list("pk", flat=True)
    )


@transaction.atomic
def change_role(
    *, role: OrganizationRole, role_name: str, by: AbstractBaseUser, ip_address: str | None = None
) -> OrganizationRole:
    role = (
        OrganizationRole.objects.select_for_update()
        .select_related("organization", "user")
        .get(pk=role.pk)
    )
    role_name = OrganizationRoleName(role_name)
    if role.role_name == role_name:
        return role
    if role.role_name == OrganizationRoleName.OWNER and _owner_count(role.organization) <= 1:
        raise MembershipError("Cannot remove the last Owner of an organization.")
    previous = role.role_name
    role.role_name = role_name
    role.save(update_fields=["role_name"])
    record_organization_event(
        organization=role.organization,
        tag=EventTag.ROLE_CHANGE,
        user=by,
        ip_address=ip_address,
        role_name=role_name,
        previous_role_name=previous,
        target_user=role.user.get_username(),
    )
    return role


@transaction.atomic
def remove_role(
    *, role: OrganizationRole, by: AbstractBaseUser, ip_address: str | None = None
) -> None:
    """Remove a member (or let one leave), with their places in the organization's teams;
    never the last Owner."""
    role = (
        OrganizationRole.objects.select_for_update()
        .select_related("organization", "user")
        .get(pk=role.pk)
    )
    if role.role_name == OrganizationRoleName.OWNER and _owner_count(role.organization) <= 1:
        raise MembershipError("Cannot remove the last Owner of an organization.")
    role.delete()
    TeamMember.objects.filter(user=role.user, team__organization=role.organization).delete()
    record_organization_event(
        organization=role.organization,
        tag=EventTag.ROLE_REMOVE,
        user=by,
        ip_address=ip_address,
        role_name=role.role_name,
        target_user=role.user.get_username(),
    )
