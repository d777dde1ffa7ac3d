"""Freezing a user: no login, no uploads, every token dead, until staff unfreeze them."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from accounts.models import Account


def is_frozen(user: AbstractBaseUser) -> bool:
    return Account.objects.filter(user=user, is_frozen=True).exists()


@transaction.atomic
def freeze_user(*, user: AbstractBaseUser, reason: str) -> None:
    Account.objects.update_or_create(
        user=user,
        defaults={"is_frozen": True, "frozen_reason": reason, "frozen_at": timezone.now()},
    )


@transaction.atomic
def unfreeze_user(*, user: AbstractBaseUser) -> None:
    Account.objects.filter(user=user).update(is_frozen=False, frozen_reason="", frozen_at=None)
