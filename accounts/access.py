"""Who may use the account pages: logged in, not frozen, recently authenticated for sensitive
actions, and - where settings ask - with a verified address and 2FA.

`standing_denial` is the account half of every permission question; packages/permissions.py
adds the project half on top of it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model, logout
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Exists, OuterRef
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from accounts.emails import has_verified_primary_email
from accounts.freezing import is_frozen
from accounts.login import FROZEN_MESSAGE, needs_reauthentication
from accounts.models import Account, Email

View = Callable[..., HttpResponse]


@dataclass(frozen=True)
class Standing:
    """The account facts every permission answer needs, read in one query."""

    frozen: bool
    email_verified: bool
    two_factor: bool


def standing_expressions(user_ref: OuterRef | int) -> dict[str, Exists]:
    """Subqueries for `Standing`'s fields, to annotate onto a query that has the user (so
    packages/permissions.py reads the role and the standing in one query)."""
    return {
        "frozen": Exists(Account.objects.filter(user=user_ref, is_frozen=True)),
        "email_verified": Exists(Email.objects.filter(user=user_ref, primary=True, verified=True)),
        "two_factor": Exists(Account.objects.filter(user=user_ref).exclude(totp_secret="")),
    }


def standing_of(user: AbstractBaseUser) -> Standing:
    facts = (
        get_user_model()
        .objects.filter(pk=user.pk)
        .values(**standing_expressions(OuterRef("pk")))
        .first()
    )
    return (
        Standing(**facts)
        if facts
        else Standing(frozen=True, email_verified=False, two_factor=False)
    )


def standing_denial(
    user: AbstractBaseUser, *, uploading: bool = False, standing: Standing | None = None
) -> str | None:
    """Why `user` may not upload (with a token) or manage yet, or None: a verified primary
    address (REQUIRE_VERIFIED_EMAIL), then 2FA (REQUIRE_TWO_FACTOR), in PyPI's order."""
    if not settings.REQUIRE_VERIFIED_EMAIL and not settings.REQUIRE_TWO_FACTOR:
        return None
    standing = standing or standing_of(user)
    name = user.get_username()
    if settings.REQUIRE_VERIFIED_EMAIL and not standing.email_verified:
        if uploading:
            return (
                f"User '{name}', associated with the API token used, does not have a verified "
                "primary email address. Please add a verified primary email before attempting "
                f"to upload. See {settings.HELP_URL}#verified-email for more information."
            )
        return "You must verify your primary email address to manage projects and API tokens."
    if settings.REQUIRE_TWO_FACTOR and not standing.two_factor:
        if uploading:
            return (
                f"User '{name}', associated with the API token used, does not have two-factor "
                "authentication enabled. Please enable two-factor authentication before "
                f"attempting to upload. See {settings.HELP_URL}#two-factor-authentication for "
                "more information."
            )
        return "You must enable two factor authentication to manage other settings"
    return None


def _to(path: str, next_path: str) -> HttpResponse:
    return redirect(f"{path}?{urlencode({'next': next_path})}")


def account_required(view: View) -> View:
    """A logged-in, active, unfrozen user; a frozen one is logged out on the spot."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            return _to(settings.LOGIN_URL, request.get_full_path())
        if is_frozen(request.user):
            logout(request)
            messages.error(request, FROZEN_MESSAGE)
            return redirect(settings.LOGIN_URL)
        return view(request, *args, **kwargs)

    return wrapper


def reauth_redirect(request: HttpRequest, *, next_path: str = "") -> HttpResponse | None:
    """A redirect to /account/reauthenticate/ when the password is due again, else None.

    A POST is not replayed: the user repeats the action after confirming, back on `next_path`
    (by default the page that asked)."""
    if not needs_reauthentication(request):
        return None
    if not next_path:
        next_path = request.get_full_path() if request.method == "GET" else request.path
    return _to("/account/reauthenticate/", next_path)


def reauth_required(view: View) -> View:
    """Ask for the password again when it was last given more than REAUTH_GRACE_SECONDS ago.
    Use below `account_required`."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        return reauth_redirect(request) or view(request, *args, **kwargs)

    return wrapper


def manage_required(view: View) -> View:
    """`account_required`, plus the address and 2FA that settings require for management."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        denial = standing_denial(request.user)
        if denial is not None:
            messages.error(request, denial)
            if settings.REQUIRE_VERIFIED_EMAIL and not has_verified_primary_email(request.user):
                return redirect("/manage/account/")
            return redirect("/manage/account/two-factor/")
        return view(request, *args, **kwargs)

    return account_required(wrapper)
