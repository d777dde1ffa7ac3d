"""The exchange (/_/oidc/audience, /_/oidc/mint-token) and the publishers' pages: owners'
/manage/project/<name>/publishing/ and users' pending ones on /manage/account/publishing/."""

from __future__ import annotations

import json

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from accounts import ratelimits
from accounts.access import manage_required, reauth_redirect
from accounts.events import client_ip
from packages.models import Project
from packages.views.manage import managed_project
from trusted_publishing import exchange, publishers
from trusted_publishing.forms import PublisherForm
from trusted_publishing.models import Kind, PendingPublisher, TrustedPublisher
from trusted_publishing.oidc import MAX_TOKEN_BYTES, ExchangeError


def _refusal(code: str, description: str, *, status: int = 422) -> JsonResponse:
    body = {
        "message": "Token request failed",
        "errors": [{"code": code, "description": description}],
    }
    return JsonResponse(body, status=status)


@require_safe
def audience(request: HttpRequest) -> HttpResponse:
    if not settings.TRUSTED_PUBLISHING:
        return _refusal("not-enabled", "trusted publishing functionality not enabled", status=403)
    return JsonResponse({"audience": settings.TRUSTED_PUBLISHING_AUDIENCE})


@csrf_exempt  # A CI job with no session; the JWT is the credential.
@require_POST
def mint_token(request: HttpRequest) -> HttpResponse:
    ip_address = client_ip(request)
    try:
        ratelimits.check(("oidc_mint_ip", ip_address), message="Too many token requests")
    except ratelimits.RateLimited as exc:
        response = _refusal("rate-limited", exc.message, status=429)
        response["Retry-After"] = str(exc.retry_after)
        return response
    if ip_address:
        ratelimits.Limit.named("oidc_mint_ip").hit(ip_address)
    token = _token_payload(request)
    if token is None:
        return _refusal("invalid-payload", 'malformed payload: expected {"token": "<JWT>"}')
    try:
        minted = exchange.mint_token(token, ip_address=ip_address)
    except ExchangeError as exc:
        return _refusal(exc.code, exc.description)
    return JsonResponse({"success": True, "token": minted.plaintext, "expires": minted.expires})


def _token_payload(request: HttpRequest) -> str | None:
    """The "token" of a small JSON body, or None."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
        if not 0 < length <= 4 * MAX_TOKEN_BYTES:
            return None
        token = json.loads(request.body)["token"]
    except (ValueError, KeyError, TypeError):
        return None
    return token if isinstance(token, str) else None


@csrf_exempt  # The minted token is the credential.
@require_POST
def burn_token(request: HttpRequest) -> HttpResponse:
    """Clients (uv) give a minted token back once their upload is done: it dies at once
    instead of in 15 minutes. Unknown tokens get the same answer, so this tells nothing."""
    token = _token_payload(request)
    if token is None:
        return _refusal("invalid-payload", 'malformed payload: expected {"token": "<token>"}')
    exchange.burn_token(token)
    return JsonResponse({"message": "Accepted"}, status=202)


def _kind(request: HttpRequest) -> str:
    kind = request.GET.get("kind", "")
    return kind if kind in Kind.values else Kind.GITHUB


def _project_url(project: Project) -> str:
    return reverse("manage-project-publishing", args=[project.name])


@manage_required
@require_http_methods(["GET", "HEAD", "POST"])
def project_publishing(request: HttpRequest, name: str) -> HttpResponse:
    project = managed_project(request, name)
    if response := reauth_redirect(request, next_path=request.get_full_path()):
        return response
    kind = _kind(request)
    form = PublisherForm(request.POST if request.method == "POST" else None, kind=kind)
    if request.method == "POST" and form.is_valid():
        try:
            publisher = publishers.add_publisher(
                project=project, by=request.user, ip_address=client_ip(request),
                **form.publisher_fields(),
            )  # fmt: skip
            messages.success(request, f"Added the trusted publisher {publisher.specifier}.")
            return redirect(_project_url(project))
        except publishers.PublisherError as exc:
            form.add_error(None, str(exc))
    context = {
        "project": project,
        "form": form,
        "kind": kind,
        "kinds": Kind.choices,
        "publishers": TrustedPublisher.objects.filter(project=project).order_by("pk"),
        "tab": "publishing",
    }
    status = 400 if request.method == "POST" else 200
    return render(request, "trusted_publishing/project.html", context, status=status)


@manage_required
@require_POST
def remove_project_publisher(request: HttpRequest, name: str, publisher_id: int) -> HttpResponse:
    project = managed_project(request, name)
    if response := reauth_redirect(request, next_path=_project_url(project)):
        return response
    publisher = get_object_or_404(TrustedPublisher, pk=publisher_id, project=project)
    publishers.remove_publisher(publisher=publisher, by=request.user, ip_address=client_ip(request))
    messages.success(request, f"Removed the trusted publisher {publisher.specifier}.")
    return redirect(_project_url(project))


@manage_required
@require_http_methods(["GET", "HEAD", "POST"])
def account_publishing(request: HttpRequest) -> HttpResponse:
    if response := reauth_redirect(request, next_path=request.get_full_path()):
        return response
    kind = _kind(request)
    data = request.POST if request.method == "POST" else None
    form = PublisherForm(data, kind=kind, pending=True)
    if request.method == "POST" and form.is_valid():
        try:
            pending = publishers.add_pending_publisher(
                project_name=form.cleaned_data["project_name"], by=request.user,
                **form.publisher_fields(),
            )  # fmt: skip
            messages.success(request, f"Added a pending publisher for {pending.project_name}.")
            return redirect("manage-account-publishing")
        except publishers.PublisherError as exc:
            form.add_error(None, str(exc))
    context = {
        "form": form,
        "kind": kind,
        "kinds": Kind.choices,
        "pending": PendingPublisher.objects.filter(added_by=request.user).order_by("pk"),
    }
    status = 400 if request.method == "POST" else 200
    return render(request, "trusted_publishing/account.html", context, status=status)


@manage_required
@require_POST
def remove_pending_publisher(request: HttpRequest, pending_id: int) -> HttpResponse:
    if response := reauth_redirect(request, next_path=reverse("manage-account-publishing")):
        return response
    pending = get_object_or_404(PendingPublisher, pk=pending_id, added_by=request.user)
    publishers.remove_pending_publisher(pending=pending)
    messages.success(request, f"Removed the pending publisher for {pending.project_name}.")
    return redirect("manage-account-publishing")
