"""What staff do to organizations: approve or decline a new one, freeze or unfreeze one, delete
one that owns no projects. The
admin actions call these; each takes who did it (`by`) and why (`reason`), which go to the
organization's history (the reason under a staff-only key) and to Django admin's log. The
creator of a reviewed organization gets a mail saying how it went (never the reason)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.admin.models import CHANGE, DELETION, LogEntry
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.utils import timezone

from accounts.emails import primary_email
from accounts.mail import send_templated_mail
from accounts.moderation import ModerationError, user_or_none
from organizations.events import STAFF_REASON, EventTag, record_organization_event
from organizations.membership import MembershipError
from organizations.models import Organization
from organizations.registration import delete_organization as delete_empty_organization

Status = Organization.Status


def _log(
    *,
    organization: Organization,
    by: AbstractBaseUser | None,
    message: str,
    action_flag: int = CHANGE,
) -> None:
    if user_or_none(by) is None:
        return
    LogEntry.objects.create(
        user_id=by.pk,
        content_type_id=ContentType.objects.get_for_model(Organization).pk,
        object_id=str(organization.pk),
        object_repr=str(organization),
        action_flag=action_flag,
        change_message=message,
    )


def _tell_creator(organization: Organization, *, outcome: str) -> None:
    creator = organization.created_by
    email = primary_email(creator) if creator is not None else None
    if email is None:
        return
    context = {
        "organization": organization,
        "user": creator,
        "outcome": outcome,
        "url": f"{settings.SITE_URL}/manage/organization/{organization.name}/",
    }
    transaction.on_commit(
        lambda: send_templated_mail(
            to=email.email, template="organization-reviewed", context=context
        )
    )


def _locked(organization: Organization) -> Organization:
    return (
        Organization.objects.select_for_update(of=("self",))
        .select_related("created_by")
        .get(pk=organization.pk)
    )


def _set(organization: Organization, **fields: object) -> None:
    Organization.objects.filter(pk=organization.pk).update(**fields)
    for field, value in fields.items():
        setattr(organization, field, value)


@transaction.atomic
def approve_organization(
    *, organization: Organization, reason: str, by: AbstractBaseUser | None = None
) -> None:
    organization = _locked(organization)
    if organization.status != Status.PENDING:
        raise ModerationError(f"It is {organization.get_status_display().lower()}, not pending.")
    _set(organization, status=Status.APPROVED, reviewed_at=timezone.now())
    record_organization_event(
        organization=organization, tag=EventTag.APPROVE, user=by, **{STAFF_REASON: reason}
    )
    _log(organization=organization, by=by, message=f"Approved: {reason}")
    _tell_creator(organization, outcome="approved")


@transaction.atomic
def decline_organization(
    *, organization: Organization, reason: str, by: AbstractBaseUser | None = None
) -> None:
    """A declined request keeps its row and history; its name is free again."""
    organization = _locked(organization)
    if organization.status != Status.PENDING:
        raise ModerationError(f"It is {organization.get_status_display().lower()}, not pending.")
    _set(organization, status=Status.DECLINED, reviewed_at=timezone.now())
    record_organization_event(
        organization=organization, tag=EventTag.DECLINE, user=by, **{STAFF_REASON: reason}
    )
    _log(organization=organization, by=by, message=f"Declined: {reason}")
    _tell_creator(organization, outcome="declined")


@transaction.atomic
def freeze_organization(
    *, organization: Organization, reason: str, by: AbstractBaseUser | None = None
) -> None:
    """Its members keep their personal roles only: team roles and Owners' powers over its
    projects lapse, and its projects refuse uploads, until it is unfrozen."""
    organization = _locked(organization)
    if not organization.is_active:
        raise ModerationError("It is already frozen.")
    _set(organization, is_active=False)
    record_organization_event(
        organization=organization, tag=EventTag.FREEZE, user=by, **{STAFF_REASON: reason}
    )
    _log(organization=organization, by=by, message=f"Frozen: {reason}")


@transaction.atomic
def unfreeze_organization(
    *, organization: Organization, reason: str, by: AbstractBaseUser | None = None
) -> None:
    organization = _locked(organization)
    if organization.is_active:
        raise ModerationError("It is not frozen.")
    _set(organization, is_active=True)
    record_organization_event(
        organization=organization, tag=EventTag.UNFREEZE, user=by, **{STAFF_REASON: reason}
    )
    _log(organization=organization, by=by, message=f"Unfrozen: {reason}")


@transaction.atomic
def delete_organization(
    *, organization: Organization, reason: str, by: AbstractBaseUser | None = None
) -> None:
    """The Owners' deletion (organizations/registration.py), by staff: also a pending, declined
    or frozen one, still only once it owns no projects."""
    try:
        delete_empty_organization(organization=organization, by=by, reason=reason)
    except MembershipError as exc:
        raise ModerationError(str(exc)) from None
    _log(
        organization=organization,
        by=by,
        message=f"Deleted: {reason}",
        action_flag=DELETION,
    )
