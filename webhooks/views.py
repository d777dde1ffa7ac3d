"""The owners' webhook page: /manage/project/<name>/webhooks/ (add, remove, delivery log,
redeliver). Owners only (packages.permissions.manage_denial), after a recent password."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from accounts.access import manage_required, reauth_redirect
from accounts.events import client_ip
from packages.models import Project
from packages.views.manage import managed_project
from webhooks import events, subscriptions
from webhooks.forms import SubscriptionForm
from webhooks.models import Delivery, Subscription

LOG_SIZE = 50


def _page_url(project: Project) -> str:
    return reverse("manage-project-webhooks", args=[project.name])


@never_cache  # It shows a new secret once.
@manage_required
@require_http_methods(["GET", "HEAD", "POST"])
def webhooks_page(request: HttpRequest, name: str) -> HttpResponse:
    project = managed_project(request, name)
    if response := reauth_redirect(request, next_path=_page_url(project)):
        return response
    form = SubscriptionForm(request.POST if request.method == "POST" else None)
    created, status = None, 200
    if request.method == "POST":
        if form.is_valid():
            try:
                created = subscriptions.create_subscription(
                    project=project, by=request.user, ip_address=client_ip(request),
                    **form.cleaned_data,
                )  # fmt: skip
                form = SubscriptionForm()
            except subscriptions.WebhookError as exc:
                form.add_error(None, str(exc))
        status = 200 if created else 400
    return render(request, "webhooks/manage.html", _context(project, form, created), status=status)


def _context(project: Project, form: SubscriptionForm, created: Subscription | None) -> dict:
    hooks = Subscription.objects.filter(project=project).order_by("pk")
    log = (
        Delivery.objects.filter(subscription__project=project)
        .select_related("subscription")
        .order_by("-created")[:LOG_SIZE]
    )
    return {
        "project": project,
        "form": form,
        "subscriptions": hooks,
        "deliveries": log,
        "created": created,
        "tab": "webhooks",
    }


@manage_required
@require_POST
def delete_webhook(request: HttpRequest, name: str, subscription_id: int) -> HttpResponse:
    project = managed_project(request, name)
    if response := reauth_redirect(request, next_path=_page_url(project)):
        return response
    subscription = get_object_or_404(Subscription, pk=subscription_id, project=project)
    subscriptions.delete_subscription(
        subscription=subscription, by=request.user, ip_address=client_ip(request)
    )
    messages.success(request, f"Removed the webhook to {subscription.url}.")
    return redirect(_page_url(project))


@manage_required
@require_POST
def redeliver(request: HttpRequest, name: str, delivery_id: str) -> HttpResponse:
    project = managed_project(request, name)
    if response := reauth_redirect(request, next_path=_page_url(project)):
        return response
    delivery = get_object_or_404(
        Delivery.objects.select_related("subscription"),
        pk=delivery_id,
        subscription__project=project,
    )
    events.redeliver(delivery)
    messages.success(request, f"Sent {delivery.event} to {delivery.subscription.url} again.")
    return redirect(_page_url(project))
