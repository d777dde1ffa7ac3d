"""Pages under /account/: register, verify an address, log in (with 2FA), log out, reset a
password, confirm the password again."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import logout as django_logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from accounts import emails, passwords, registration
from accounts import login as logins
from accounts.access import account_required
from accounts.events import client_ip, record_user_event
from accounts.forms import (
    LoginForm,
    PasswordForm,
    RecoveryCodeForm,
    RegistrationForm,
    RequestPasswordResetForm,
    ResetPasswordForm,
    TotpForm,
)
from accounts.models import UserEvent
from accounts.ratelimits import RateLimited
from accounts.views.common import next_url, too_many_requests

GET_POST = ["GET", "POST"]


@sensitive_post_parameters("password")
@require_http_methods(GET_POST)
def login(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect(next_url(request))
    form = LoginForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = logins.check_password_login(request=request, **form.cleaned_data)
        except RateLimited as exc:
            return too_many_requests(request, exc)
        except logins.LoginError as exc:
            form.add_error(None, str(exc))
        else:
            if logins.start_login(request=request, user=user):
                return redirect(next_url(request))
            return redirect(f"/account/two-factor/?{urlencode({'next': next_url(request)})}")
    return render(request, "accounts/login.html", {"form": form, "next": next_url(request)})


def _second_factor(request: HttpRequest, *, recovery: bool) -> HttpResponse:
    user = logins.pending_user(request)
    if user is None:
        return redirect("/account/login/")
    form = (RecoveryCodeForm if recovery else TotpForm)(request.POST or None)
    if request.method == "POST" and form.is_valid():
        code = form.cleaned_data.get("recovery_code_value" if recovery else "totp_value")
        try:
            logins.check_second_factor(
                request=request,
                user=user,
                **({"recovery_code": code} if recovery else {"totp_code": code}),
            )
        except RateLimited as exc:
            return too_many_requests(request, exc)
        except logins.LoginError as exc:
            form.add_error(None, str(exc))
        else:
            return redirect(next_url(request))
    template = "accounts/recovery_code.html" if recovery else "accounts/two_factor.html"
    return render(request, template, {"form": form, "next": next_url(request)})


@require_http_methods(GET_POST)
def two_factor(request: HttpRequest) -> HttpResponse:
    return _second_factor(request, recovery=False)


@require_http_methods(GET_POST)
def recovery_code(request: HttpRequest) -> HttpResponse:
    return _second_factor(request, recovery=True)


@require_http_methods(GET_POST)
def logout(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        if request.user.is_authenticated:
            record_user_event(
                user=request.user, tag=UserEvent.Tag.LOGOUT, ip_address=client_ip(request)
            )
        django_logout(request)
        return redirect("/")
    return render(request, "accounts/logout.html")


@sensitive_post_parameters("new_password", "password_confirm")
@require_http_methods(GET_POST)
def register(request: HttpRequest) -> HttpResponse:
    form = RegistrationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = registration.register_user(
                username=form.cleaned_data["username"],
                email=form.cleaned_data["email"],
                password=form.cleaned_data["new_password"],
                ip_address=client_ip(request),
            )
        except RateLimited as exc:
            return too_many_requests(request, exc)
        except registration.RegistrationError as exc:
            form.add_error(None, str(exc))
        else:
            logins.complete_login(request=request, user=user, method="registration")
            messages.success(
                request, f"We sent a link to {user.email}: open it to verify your address."
            )
            return redirect("/manage/account/")
    return render(request, "accounts/register.html", {"form": form})


@require_http_methods(["GET"])
def verify_email(request: HttpRequest) -> HttpResponse:
    try:
        email = emails.verify_email(
            token=request.GET.get("token", ""), ip_address=client_ip(request)
        )
    except emails.EmailError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Email address {email.email} verified.")
    return redirect("/manage/account/" if request.user.is_authenticated else "/account/login/")


@require_http_methods(GET_POST)
def request_password_reset(request: HttpRequest) -> HttpResponse:
    form = RequestPasswordResetForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            passwords.request_password_reset(
                identifier=form.cleaned_data["username_or_email"],
                ip_address=client_ip(request),
            )
        except RateLimited as exc:
            return too_many_requests(request, exc)
        return render(request, "accounts/password_reset_sent.html")
    return render(request, "accounts/request_password_reset.html", {"form": form})


@sensitive_post_parameters("new_password", "password_confirm")
@require_http_methods(GET_POST)
def reset_password(request: HttpRequest) -> HttpResponse:
    try:
        user = passwords.user_for_reset_token(request.GET.get("token", ""))
    except passwords.PasswordResetError as exc:
        messages.error(request, str(exc))
        return redirect("/account/request-password-reset/")
    form = ResetPasswordForm(request.POST or None, user=user)
    if request.method == "POST" and form.is_valid():
        passwords.reset_password(
            user=user, password=form.cleaned_data["new_password"], ip_address=client_ip(request)
        )
        messages.success(request, "Your password has been reset. Log in with it.")
        return redirect("/account/login/")
    return render(request, "accounts/reset_password.html", {"form": form})


@sensitive_post_parameters("password")
@require_http_methods(GET_POST)
@account_required
def reauthenticate(request: HttpRequest) -> HttpResponse:
    form = PasswordForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            logins.reauthenticate(request=request, password=form.cleaned_data["password"])
        except RateLimited as exc:
            return too_many_requests(request, exc)
        except logins.LoginError as exc:
            form.add_error("password", str(exc))
        else:
            return redirect(next_url(request))
    return render(
        request, "accounts/reauthenticate.html", {"form": form, "next": next_url(request)}
    )
