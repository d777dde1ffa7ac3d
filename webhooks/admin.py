"""Staff's webhooks: subscriptions to one project or to all, and the delivery log with a
"redeliver" action. A new subscription's secret is shown once, on the page after saving."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from pypi_site.admin import ReadOnlyAdmin, ScaledAdmin
from webhooks import events
from webhooks.forms import SubscriptionForm
from webhooks.models import Delivery, EventKind, Subscription
from webhooks.subscriptions import new_secret


class SubscriptionAdminForm(forms.ModelForm):
    url = SubscriptionForm.base_fields["url"]
    events = forms.MultipleChoiceField(
        choices=EventKind.choices, widget=forms.CheckboxSelectMultiple
    )
    new_secret = forms.CharField(
        required=False,
        min_length=16,
        max_length=200,
        help_text="Empty: keep the current secret (a new webhook gets a generated one, shown "
        "once after saving).",
    )

    class Meta:
        model = Subscription
        fields = ("project", "all_projects", "url", "events", "active")

    clean_url = SubscriptionForm.clean_url

    def clean(self) -> dict:
        cleaned = super().clean()
        if bool(cleaned.get("project")) == bool(cleaned.get("all_projects")):
            raise forms.ValidationError("Choose one project, or all projects.")
        return cleaned


@admin.register(Subscription)
class SubscriptionAdmin(ScaledAdmin):
    form = SubscriptionAdminForm
    list_display = ("url", "scope", "event_list", "active", "created_by", "created", "log")
    list_filter = ("active", "all_projects")
    search_fields = ("url", "project_name")
    raw_id_fields = ("project",)

    @admin.display(description="Project")
    def scope(self, obj: Subscription) -> str:
        return "All projects" if obj.all_projects else obj.project_name

    @admin.display(description="Events")
    def event_list(self, obj: Subscription) -> str:
        return ", ".join(obj.events)

    @admin.display(description="Deliveries")
    def log(self, obj: Subscription) -> str:
        url = reverse("admin:webhooks_delivery_changelist")
        return format_html('<a href="{}?subscription__id__exact={}">log</a>', url, obj.pk)

    def save_model(self, request: HttpRequest, obj: Subscription, form, change: bool) -> None:
        obj.project_name = obj.project.name if obj.project else ""
        if not change:
            obj.created_by = request.user
        if form.cleaned_data.get("new_secret") or not obj.secret:
            obj.secret = form.cleaned_data.get("new_secret") or new_secret()
            request._webhook_secret_set = True
        super().save_model(request, obj, form, change)

    def response_add(self, request: HttpRequest, obj: Subscription, post_url_continue=None):
        return self._secret_page(request, obj)

    def response_change(self, request: HttpRequest, obj: Subscription) -> HttpResponse:
        if getattr(request, "_webhook_secret_set", False):
            return self._secret_page(request, obj)
        return super().response_change(request, obj)

    def _secret_page(self, request: HttpRequest, obj: Subscription) -> HttpResponse:
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "subscription": obj,
            "title": "Webhook secret",
        }
        return TemplateResponse(request, "admin/webhooks/secret_shown.html", context)


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = (
        "created",
        "event",
        "project",
        "subscription",
        "status",
        "status_code",
        "attempts",
        "duration_ms",
    )
    list_filter = ("status", "event")
    list_select_related = ("subscription",)
    ordering = ("-created",)
    actions = ["redeliver"]
    fields = (
        "id",
        "subscription",
        "event",
        "payload",
        "status",
        "status_code",
        "error",
        "attempts",
        "duration_ms",
        "response_excerpt",
        "created",
        "last_attempt",
        "redelivery_of",
    )

    @admin.display(description="Project")
    def project(self, obj: Delivery) -> str:
        return obj.payload.get("project", "")

    def has_redeliver_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("webhooks.change_subscription")

    @admin.action(description="Redeliver selected deliveries", permissions=["redeliver"])
    def redeliver(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = 0
        for delivery in queryset.select_related("subscription"):
            events.redeliver(delivery)
            count += 1
        self.message_user(request, f"Queued {count} redeliveries.", messages.SUCCESS)
