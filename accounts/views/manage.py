"""Pages under /manage/account/: addresses, password, two-factor, recovery codes, API tokens
and the account's security history."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from accounts import emails, passwords, tokens, twofactor
from accounts.access import account_required, manage_required, reauth_required
from accounts.events import client_ip
from accounts.forms import AddEmailForm, ApiTokenForm, ChangePasswordForm, TotpForm
from accounts.models import Email
from accounts.ratelimits import RateLimited
from accounts.views.common import too_many_requests

TOTP_SECRET_KEY = "accounts.totp_provision_secret"
# Secrets made by a POST wait here for the one GET that shows them (POST-redirect-GET: a
# reload or the back button never re-submits the form, and the secret is shown only once).
NEW_TOKEN_KEY = "accounts.new_api_token"
NEW_RECOVERY_CODES_KEY = "accounts.new_recovery_codes"
HISTORY_LENGTH = 50


def _account_page(request: HttpRequest, **forms) -> HttpResponse:
    user = request.user
    context = {
        "emails": user.emails.order_by("-primary", "email"),
        "add_email_form": forms.get("add_email_form") or AddEmailForm(),
        "password_form": forms.get("password_form") or ChangePasswordForm(user=user),
        "has_two_factor": twofactor.has_two_factor(user),
        "recovery_codes_left": twofactor.unused_recovery_codes(user),
        "events": user.events.all()[:HISTORY_LENGTH],
    }
    return render(request, "accounts/manage_account.html", context)


@require_safe
@account_required
def account(request: HttpRequest) -> HttpResponse:
    return _account_page(request)


@sensitive_post_parameters("password", "new_password", "password_confirm")
@require_POST
@account_required
def change_password(request: HttpRequest) -> HttpResponse:
    form = ChangePasswordForm(request.POST, user=request.user)
    if not form.is_valid():
        return _account_page(request, password_form=form)
    passwords.change_password(
        user=request.user,
        password=form.cleaned_data["new_password"],
        ip_address=client_ip(request),
    )
    update_session_auth_hash(request, request.user)
    messages.success(request, "Password updated.")
    return redirect("/manage/account/")


@require_POST
@account_required
def add_email(request: HttpRequest) -> HttpResponse:
    form = AddEmailForm(request.POST)
    if not form.is_valid():
        return _account_page(request, add_email_form=form)
    try:
        email = emails.add_email(
            user=request.user,
            address=form.cleaned_data["email"],
            ip_address=client_ip(request),
        )
    except RateLimited as exc:
        return too_many_requests(request, exc)
    except emails.EmailError as exc:
        form.add_error("email", str(exc))
        return _account_page(request, add_email_form=form)
    messages.success(request, f"Email {email.email} added - check your inbox for a link.")
    return redirect("/manage/account/")


@require_POST
@account_required
def email_action(request: HttpRequest, email_id: int, action: str) -> HttpResponse:
    """`primary`, `resend` (the verification link) or `delete` one of the user's addresses."""
    email = Email.objects.filter(pk=email_id, user=request.user).first()
    if email is None:
        raise Http404("No such address")
    ip = client_ip(request)
    try:
        if action == "primary":
            emails.make_primary(user=request.user, email=email, ip_address=ip)
        elif action == "resend" and not email.verified:
            emails.send_verification(email=email)
        elif action == "delete":
            emails.remove_email(user=request.user, email=email, ip_address=ip)
        else:
            raise Http404("No such action")
    except emails.EmailError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Done.")
    return redirect("/manage/account/")


@require_safe
@account_required
def two_factor(request: HttpRequest) -> HttpResponse:
    context = {
        "has_two_factor": twofactor.has_two_factor(request.user),
        "recovery_codes_left": twofactor.unused_recovery_codes(request.user),
    }
    return render(request, "accounts/manage_two_factor.html", context)


@require_POST
@account_required
@reauth_required
def remove_totp(request: HttpRequest) -> HttpResponse:
    twofactor.disable_totp(user=request.user, ip_address=client_ip(request))
    messages.success(request, "Authentication application removed.")
    return redirect("/manage/account/two-factor/")


@require_http_methods(["GET", "POST"])
@account_required
@reauth_required
def totp_provision(request: HttpRequest) -> HttpResponse:
    """Show a new secret (QR code and text) until the user confirms it with a code."""
    if twofactor.has_two_factor(request.user):
        messages.error(request, "An authentication application is already set up.")
        return redirect("/manage/account/two-factor/")
    secret = request.session.setdefault(TOTP_SECRET_KEY, twofactor.new_totp_secret())
    form = TotpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            codes = twofactor.enable_totp(
                user=request.user,
                secret=secret,
                code=form.cleaned_data["totp_value"],
                ip_address=client_ip(request),
            )
        except twofactor.TwoFactorError as exc:
            form.add_error("totp_value", str(exc))
        else:
            del request.session[TOTP_SECRET_KEY]
            request.session[NEW_RECOVERY_CODES_KEY] = codes
            return redirect("/manage/account/recovery-codes/")
    uri = twofactor.provisioning_uri(secret=secret, username=request.user.get_username())
    context = {"form": form, "secret": secret, "qr_code": twofactor.qr_code_svg(uri)}
    return render(request, "accounts/totp_provision.html", context)


@never_cache
@require_http_methods(["GET", "POST"])
@account_required
@reauth_required
def recovery_codes(request: HttpRequest) -> HttpResponse:
    """GET: the new codes once, right after they were made, else how many are left;
    POST: replace them all."""
    if request.method == "POST":
        try:
            codes = twofactor.generate_recovery_codes(
                user=request.user, ip_address=client_ip(request)
            )
        except twofactor.TwoFactorError as exc:
            messages.error(request, str(exc))
            return redirect("/manage/account/two-factor/")
        request.session[NEW_RECOVERY_CODES_KEY] = codes
        return redirect("/manage/account/recovery-codes/")
    if codes := request.session.pop(NEW_RECOVERY_CODES_KEY, None):
        return render(request, "accounts/recovery_codes_new.html", {"codes": codes})
    context = {"recovery_codes_left": twofactor.unused_recovery_codes(request.user)}
    return render(request, "accounts/recovery_codes.html", context)


def _tokens_page(request: HttpRequest, form: ApiTokenForm, status: int = 200) -> HttpResponse:
    site = urlsplit(settings.SITE_URL)
    context = {
        # What pip and uv are given: the index URL with `__token__:<token>@` before the host.
        "index_with_token": f"{site.scheme}://__token__:<the token>@{site.netloc}/simple/",
        "form": form,
        "issued": request.session.pop(NEW_TOKEN_KEY, None),
        "tokens": request.user.api_tokens.prefetch_related("projects").order_by("-created"),
    }
    return render(request, "accounts/manage_tokens.html", context, status=status)


@never_cache
@require_safe
@manage_required
def api_tokens(request: HttpRequest) -> HttpResponse:
    return _tokens_page(request, ApiTokenForm(user=request.user))


@require_POST
@manage_required
@reauth_required
def create_api_token(request: HttpRequest) -> HttpResponse:
    form = ApiTokenForm(request.POST, user=request.user)
    if not form.is_valid():
        return _tokens_page(request, form, status=400)
    try:
        issued = tokens.issue_api_token(
            user=request.user,
            projects=form.cleaned_data["projects"],
            description=form.cleaned_data["description"],
            expires=form.cleaned_data["expires"],
            ip_address=client_ip(request),
            read_only=form.cleaned_data["read_only"],
        )
    except tokens.TokenError as exc:
        form.add_error(None, str(exc))
        return _tokens_page(request, form, status=400)
    request.session[NEW_TOKEN_KEY] = {
        "description": issued.token.description,
        "plaintext": issued.plaintext,
    }
    return redirect("/manage/account/token/")


@require_POST
@account_required
def revoke_api_token(request: HttpRequest, identifier: str) -> HttpResponse:
    if "\x00" in identifier:  # no token has one, and PostgreSQL refuses it in a query
        raise Http404("No such token.")
    try:
        tokens.revoke_api_token(
            user=request.user, identifier=identifier, ip_address=client_ip(request)
        )
    except tokens.TokenError as exc:
        raise Http404(str(exc)) from None
    messages.success(request, "API token removed: it no longer works.")
    return redirect("/manage/account/token/")
