"""What staff do to users: freeze, unfreeze, reset a password, remove two-factor
authentication (Warehouse `admin/views/users.py`); the admin actions and the freeze_user command
call these.

Every action takes who did it (`by`; None from a command, whose actor accounts.actors records)
and why (`reason`). Each goes to the user's security history (UserEvent), which the user sees,
and with its author to Django admin's log.
"""

from __future__ import annotations

from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.contenttypes.models import ContentType
from django.db import transaction

from accounts import freezing, twofactor
from accounts.actors import actor_name
from accounts.events import record_user_event
from accounts.jobs import send_password_reset_by_staff
from accounts.models import UserEvent
from pypi_site.jobs import enqueue


class ModerationError(ValueError):
    """An action that cannot be done as asked; the message is for the staff member."""


def user_or_none(user: AbstractBaseUser | None) -> AbstractBaseUser | None:
    """The staff member behind an action, or None for a command or an anonymous caller."""
    return user if user is not None and user.is_authenticated else None


# --- Users ----------------------------------------------------------------------------------


def _record_user_action(
    *, user: AbstractBaseUser, tag: str, by: AbstractBaseUser | None, reason: str, **extra: object
) -> None:
    """The user's own security history gets the event (they see it on their account page);
    Django admin's log gets who did it, shown in the user's admin History."""
    staff = user_or_none(by)
    record_user_event(
        user=user,
        tag=tag,
        submitted_by=actor_name(staff),
        reason=reason,
        **extra,
    )
    if staff is not None:
        LogEntry.objects.create(
            user_id=staff.pk,
            content_type_id=ContentType.objects.get_for_model(user).pk,
            object_id=str(user.pk),
            object_repr=str(user)[:200],
            action_flag=CHANGE,
            change_message=f"{tag}: {reason}",
        )


@transaction.atomic
def freeze_user(*, user: AbstractBaseUser, reason: str, by: AbstractBaseUser | None = None) -> None:
    """No login, no uploads, every token refused (accounts.login and accounts.tokens check the
    flag). Reversible with `unfreeze_user`."""
    freezing.freeze_user(user=user, reason=reason)
    _record_user_action(user=user, tag=UserEvent.Tag.FROZEN, by=by, reason=reason)


@transaction.atomic
def unfreeze_user(
    *, user: AbstractBaseUser, reason: str, by: AbstractBaseUser | None = None
) -> None:
    freezing.unfreeze_user(user=user)
    _record_user_action(user=user, tag=UserEvent.Tag.UNFROZEN, by=by, reason=reason)


@transaction.atomic
def reset_password(
    *, user: AbstractBaseUser, reason: str, by: AbstractBaseUser | None = None
) -> None:
    """Disable the password, so a stolen one stops working, and email the user a link to set a
    new one, as Warehouse's admin "reset password" does. Tokens keep working."""
    user.set_unusable_password()
    user.save(update_fields=["password"])
    _record_user_action(user=user, tag=UserEvent.Tag.PASSWORD_RESET_BY_STAFF, by=by, reason=reason)
    enqueue(send_password_reset_by_staff, user.pk)


@transaction.atomic
def remove_two_factor(
    *,
    user: AbstractBaseUser,
    reason: str,
    identity_check: str,
    by: AbstractBaseUser | None = None,
) -> None:
    """Account recovery: turn TOTP off and burn the recovery codes once staff have checked who
    is asking (`identity_check` says how, and is kept in the record)."""
    if not identity_check.strip():
        raise ModerationError("Say how the user's identity was checked.")
    if not twofactor.has_two_factor(user):
        raise ModerationError("This user has no two-factor authentication to remove.")
    twofactor.disable_totp(user=user)
    _record_user_action(
        user=user,
        tag=UserEvent.Tag.TWO_FACTOR_REMOVED_BY_STAFF,
        by=by,
        reason=reason,
        identity_check=identity_check,
    )
