"""Creating an account: PyPI's username rules, an unverified primary address, a welcome mail
with the verification link."""

from __future__ import annotations

import re

from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.validators import RegexValidator
from django.db import transaction

from accounts import ratelimits
from accounts.emails import address_taken, send_verification
from accounts.events import record_user_event
from accounts.models import Email, UserEvent

USERNAME_MAX_LENGTH = 50
# PyPI's rule for usernames (the same shape as project names): ASCII letters and digits,
# with '.', '_' and '-' inside.
validate_username = RegexValidator(
    r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$",
    flags=re.IGNORECASE,
    message=(
        "The username is invalid. Usernames must be composed of letters, numbers, dots, "
        "hyphens and underscores. And must also start and finish with a letter or number. "
        "Choose a different username."
    ),
)


class RegistrationError(Exception):
    pass


def username_taken(username: str) -> bool:
    return get_user_model().objects.filter(username__iexact=username).exists()


def registration_disabled() -> bool:
    """Staff can close sign-ups with the admin flag; looked up by name because accounts sits
    below packages."""
    flag = apps.get_model("packages", "AdminFlag")
    return flag.objects.filter(id="disallow-new-user-registration", enabled=True).exists()


@transaction.atomic
def register_user(
    *, username: str, email: str, password: str, ip_address: str | None
) -> AbstractBaseUser:
    """The new user's address stays unverified until they open the link mailed to it."""
    ratelimits.check(
        ("register_ip", ip_address), message="Too many accounts created from this address."
    )
    if registration_disabled():
        raise RegistrationError("New user registration temporarily disabled.")
    if username_taken(username):
        raise RegistrationError("This username is already being used by another account.")
    if address_taken(email):
        raise RegistrationError("This email address is already being used by another account.")
    # Created without an email so the staff-given-address receiver stays out of it.
    user = get_user_model().objects.create_user(username=username, password=password)
    address = Email.objects.create(user=user, email=email, primary=True, verified=False)
    get_user_model().objects.filter(pk=user.pk).update(email=email)
    user.email = email
    ratelimits.hit(("register_ip", ip_address))
    record_user_event(user=user, tag=UserEvent.Tag.ACCOUNT_CREATE, ip_address=ip_address)
    transaction.on_commit(lambda: send_verification(email=address))
    return user
