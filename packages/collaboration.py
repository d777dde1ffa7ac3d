"""Collaborators: Owners invite users as Owner or Maintainer, invitees accept or decline before
the invitation expires, Owners change and remove roles, and a project never loses its last
Owner. Each change is journaled and kept in the project's history (ProjectEvent).

Permission (who may do these) is packages/permissions.py's; the rules here are about the
project's state (an invitation still pending, a last Owner).
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core import signing
from django.db import transaction
from django.utils import timezone

from accounts.emails import has_verified_primary_email, primary_email
from accounts.events import record_user_event
from accounts.freezing import is_frozen
from accounts.mail import send_templated_mail
from accounts.models import UserEvent
from packages.events import EventTag, record_project_event
from packages.journal import record_change
from packages.models import Project, Role, RoleInvitation, RoleName

INVITATION_SALT = "packages.collaboration.invitation"
Status = RoleInvitation.Status


class CollaborationError(Exception):
    pass


def invitation_token(invitation: RoleInvitation) -> str:
    return signing.dumps(invitation.pk, salt=INVITATION_SALT)


def find_invitation(*, token: str, user: AbstractBaseUser) -> RoleInvitation:
    """The pending invitation a link names, if it is addressed to `user`."""
    try:
        pk = signing.loads(token, salt=INVITATION_SALT)
    except signing.BadSignature:
        raise CollaborationError("Invalid invitation link.") from None
    invitation = (
        RoleInvitation.objects.select_related("project", "invited_by")
        .filter(pk=pk, user=user)
        .first()
    )
    if invitation is None:
        raise CollaborationError("Role invitation not found.")
    _expire_if_due(invitation)
    if invitation.status != Status.PENDING:
        raise CollaborationError(f"Role invitation is {invitation.status}.")
    return invitation


def pending_invitations(*, project: Project | None = None, user: AbstractBaseUser | None = None):
    """Invitations still open (expired ones are marked so on the way)."""
    RoleInvitation.objects.filter(status=Status.PENDING, expires__lte=timezone.now()).update(
        status=Status.EXPIRED
    )
    invitations = RoleInvitation.objects.filter(status=Status.PENDING)
    if project is not None:
        invitations = invitations.filter(project=project)
    if user is not None:
        invitations = invitations.filter(user=user)
    return invitations.select_related("project", "user", "invited_by").order_by("created")


def _expire_if_due(invitation: RoleInvitation) -> None:
    if invitation.status == Status.PENDING and invitation.expires <= timezone.now():
        RoleInvitation.objects.filter(pk=invitation.pk).update(status=Status.EXPIRED)
        invitation.status = Status.EXPIRED


@transaction.atomic
def invite_collaborator(
    *,
    project: Project,
    username: str,
    role_name: str,
    invited_by: AbstractBaseUser,
    ip_address: str | None = None,
) -> RoleInvitation:
    """1. Find an active invitee with no role and no open invitation on the project.
    2. Record the invitation, journal and history, and mail the invitee a link."""
    invitee = get_user_model().objects.filter(username__iexact=username.strip()).first()
    if invitee is None or not invitee.is_active or is_frozen(invitee):
        raise CollaborationError(f"No user found with the username '{username}'.")
    name = invitee.get_username()
    existing = Role.objects.filter(user=invitee, project=project).first()
    if existing is not None:
        raise CollaborationError(f"User '{name}' already has {existing.role_name} role for project")
    if settings.REQUIRE_VERIFIED_EMAIL and not has_verified_primary_email(invitee):
        raise CollaborationError(
            f"User '{name}' does not have a verified primary email address and cannot be "
            f"added as a {role_name} for project"
        )
    if pending_invitations(project=project, user=invitee).exists():
        raise CollaborationError(
            f"User '{name}' already has an active invite. Please try again later."
        )
    invitation = RoleInvitation.objects.create(
        user=invitee,
        project=project,
        role_name=RoleName(role_name),
        invited_by=invited_by,
        expires=timezone.now() + timedelta(seconds=settings.ROLE_INVITATION_MAX_AGE),
    )
    record_change(project=project, action=f"invite {role_name} {name}", user=invited_by)
    record_project_event(
        project=project,
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
                f"{settings.SITE_URL}/account/verify-project-role/"
                f"?token={invitation_token(invitation)}"
            ),
            "days": settings.ROLE_INVITATION_MAX_AGE // 86400,
        }
        transaction.on_commit(
            lambda: send_templated_mail(to=email.email, template="role-invitation", context=context)
        )
    return invitation


@transaction.atomic
def accept_invitation(
    *, invitation: RoleInvitation, user: AbstractBaseUser, ip_address: str | None = None
) -> Role:
    invitation = RoleInvitation.objects.select_for_update().get(pk=invitation.pk, user=user)
    _expire_if_due(invitation)
    if invitation.status != Status.PENDING:
        raise CollaborationError(f"Role invitation is {invitation.status}.")
    project = invitation.project
    role, _created = Role.objects.get_or_create(
        user=user, project=project, defaults={"role_name": invitation.role_name}
    )
    invitation.status = Status.ACCEPTED
    invitation.save(update_fields=["status"])
    name = user.get_username()
    record_change(project=project, action=f"accepted {role.role_name} {name}", user=user)
    record_project_event(
        project=project,
        tag=EventTag.ROLE_ADD,
        user=user,
        ip_address=ip_address,
        role_name=role.role_name,
        target_user=name,
    )
    record_user_event(
        user=user,
        tag=UserEvent.Tag.ROLE_INVITATION_ACCEPT,
        ip_address=ip_address,
        project=project.name,
        role_name=role.role_name,
    )
    return role


@transaction.atomic
def decline_invitation(
    *, invitation: RoleInvitation, user: AbstractBaseUser, ip_address: str | None = None
) -> None:
    invitation = RoleInvitation.objects.select_for_update().get(pk=invitation.pk, user=user)
    if invitation.status != Status.PENDING:
        raise CollaborationError(f"Role invitation is {invitation.status}.")
    invitation.status = Status.DECLINED
    invitation.save(update_fields=["status"])
    record_project_event(
        project=invitation.project,
        tag=EventTag.ROLE_DECLINE_INVITE,
        user=user,
        ip_address=ip_address,
        role_name=invitation.role_name,
        target_user=user.get_username(),
    )
    record_user_event(
        user=user,
        tag=UserEvent.Tag.ROLE_INVITATION_DECLINE,
        ip_address=ip_address,
        project=invitation.project.name,
    )


@transaction.atomic
def revoke_invitation(
    *, invitation: RoleInvitation, by: AbstractBaseUser, ip_address: str | None = None
) -> None:
    updated = RoleInvitation.objects.filter(pk=invitation.pk, status=Status.PENDING).update(
        status=Status.REVOKED
    )
    if not updated:
        raise CollaborationError("Role invitation is no longer pending.")
    name = invitation.user.get_username()
    record_change(
        project=invitation.project, action=f"revoke_invite {invitation.role_name} {name}", user=by
    )
    record_project_event(
        project=invitation.project,
        tag=EventTag.ROLE_REVOKE_INVITE,
        user=by,
        ip_address=ip_address,
        role_name=invitation.role_name,
        target_user=name,
    )


def _owner_count(project: Project) -> int:
    # Locked, so two Owners demoting each other at once cannot both succeed.
    return len(
        Role.objects.select_for_update()
        .filter(project=project, role_name=RoleName.OWNER)
        .values_list("pk", flat=True)
    )


@transaction.atomic
def change_role(
    *, role: Role, role_name: str, by: AbstractBaseUser, ip_address: str | None = None
) -> Role:
    role = Role.objects.select_for_update().select_related("project", "user").get(pk=role.pk)
    role_name = RoleName(role_name)
    if role.role_name == role_name:
        return role
    if role.role_name == RoleName.OWNER and _owner_count(role.project) <= 1:
        raise CollaborationError("Cannot remove the last Owner of a project.")
    previous = role.role_name
    role.role_name = role_name
    role.save(update_fields=["role_name"])
    name = role.user.get_username()
    record_change(project=role.project, action=f"change {previous} {name} to {role_name}", user=by)
    record_project_event(
        project=role.project,
        tag=EventTag.ROLE_CHANGE,
        user=by,
        ip_address=ip_address,
        role_name=role_name,
        previous_role_name=previous,
        target_user=name,
    )
    return role


@transaction.atomic
def remove_role(*, role: Role, by: AbstractBaseUser, ip_address: str | None = None) -> None:
    """Remove a collaborator, or let one leave; never the last Owner."""
    role = Role.objects.select_for_update().select_related("project", "user").get(pk=role.pk)
    if role.role_name == RoleName.OWNER and _owner_count(role.project) <= 1:
        raise CollaborationError("Cannot remove the last Owner of a project.")
    role.delete()
    name = role.user.get_username()
    record_change(project=role.project, action=f"remove {role.role_name} {name}", user=by)
    record_project_event(
        project=role.project,
        tag=EventTag.ROLE_REMOVE,
        user=by,
        ip_address=ip_address,
        role_name=role.role_name,
        target_user=name,
    )
