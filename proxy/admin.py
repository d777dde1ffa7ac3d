"""Staff's view of the upstream proxy: each fetched name's state (last fetch, upstream serial,
errors), purge and block; local names allowed despite an upstream twin; release-age
exemptions. Every action calls the domain function in proxy/mirror.py."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db.models import Exists, OuterRef, QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from packaging.utils import InvalidName

from packages.models import Origin, Project, ReleaseAgeExemption
from packages.names import normalize_name
from packages.releases import lookup_version
from proxy import mirror
from proxy.models import AllowedLocalName, UpstreamProject
from pypi_site.admin import ScaledAdmin, confirm_action


class LocalTwinFilter(admin.SimpleListFilter):
    title = "local project of the same name"
    parameter_name = "local_twin"

    def lookups(self, request, model_admin):
        return [("yes", "Yes: the upstream also lists a local name")]

    def queryset(self, request, queryset):
        if self.value() != "yes":
            return queryset
        local = Project.objects.filter(
            normalized_name=OuterRef("normalized_name"), origin=Origin.LOCAL
        )
        return queryset.filter(Exists(local), seen_upstream_at__isnull=False)


class UpstreamProjectForm(forms.ModelForm):
    class Meta:
        model = UpstreamProject
        fields = ["normalized_name", "blocked", "block_reason"]

    def clean_normalized_name(self) -> str:
        try:
            return normalize_name(self.cleaned_data["normalized_name"])
        except InvalidName:
            raise forms.ValidationError("Not a valid project name.") from None

    def clean(self):
        data = super().clean()
        if data.get("blocked") and not data.get("block_reason", "").strip():
            self.add_error("block_reason", "Say why the name is blocked (shown in its 404).")
        return data


@admin.register(UpstreamProject)
class UpstreamProjectAdmin(ScaledAdmin):
    form = UpstreamProjectForm
    list_display = [
        "normalized_name",
        "project",
        "fetched_at",
        "upstream_serial",
        "error_count",
        "short_error",
        "blocked",
        "seen_upstream_at",
    ]
    list_filter = ["blocked", LocalTwinFilter]
    search_fields = ["normalized_name"]
    readonly_fields = [
        "project",
        "fetched_at",
        "etag",
        "last_modified",
        "upstream_serial",
        "last_error",
        "last_error_at",
        "error_count",
        "seen_upstream_at",
    ]
    actions = ["purge", "block", "unblock"]

    def get_readonly_fields(self, request: HttpRequest, obj: UpstreamProject | None = None):
        return [*self.readonly_fields, "normalized_name"] if obj else self.readonly_fields

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False  # purge and unblock say what happens; a deleted row would lose the block

    @admin.display(description="last error")
    def short_error(self, obj: UpstreamProject) -> str:
        return obj.last_error[:80]

    def save_model(self, request, obj: UpstreamProject, form, change) -> None:
        super().save_model(request, obj, form, change)
        if obj.blocked:
            mirror.block(normalized_name=obj.normalized_name, reason=obj.block_reason)

    @admin.action(description="Purge the cached copy (fetched again on the next read)")
    def purge(self, request: HttpRequest, queryset: QuerySet) -> None:
        purged = sum(mirror.purge(state=state) for state in queryset)
        self.message_user(request, f"Purged {purged} cached projects.", messages.SUCCESS)

    @admin.action(description="Block: never fetch or serve from upstream", permissions=["change"])
    def block(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        return confirm_action(
            self,
            request,
            queryset,
            title="Block upstream projects",
            warning="Blocked names answer 404 with the reason; their cached copies are purged.",
            apply=lambda state, data: mirror.block(
                normalized_name=state.normalized_name, reason=data["reason"]
            ),
        )

    @admin.action(description="Unblock", permissions=["change"])
    def unblock(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = queryset.update(blocked=False, block_reason="")
        self.message_user(request, f"Unblocked {count} names.", messages.SUCCESS)


class NameForm(forms.ModelForm):
    def clean_name(self) -> str:
        name = self.cleaned_data["name"]
        try:
            normalize_name(name)
        except InvalidName:
            raise forms.ValidationError("Not a valid project name.") from None
        return name


@admin.register(AllowedLocalName)
class AllowedLocalNameAdmin(ScaledAdmin):
    form = NameForm
    fields = ["name", "reason"]
    list_display = ["name", "reason", "created_by", "created"]
    search_fields = ["normalized_name", "reason"]

    def save_model(self, request, obj: AllowedLocalName, form, change) -> None:
        obj.normalized_name = normalize_name(obj.name)
        obj.created_by = obj.created_by or request.user
        super().save_model(request, obj, form, change)


class ExemptionForm(forms.ModelForm):
    class Meta:
        model = ReleaseAgeExemption
        fields = ["normalized_name", "version", "reason", "expires"]
        labels = {"normalized_name": "Project"}

    def clean_normalized_name(self) -> str:
        try:
            return normalize_name(self.cleaned_data["normalized_name"])
        except InvalidName:
            raise forms.ValidationError("Not a valid project name.") from None

    def clean_version(self) -> str:
        version = self.cleaned_data["version"].strip()
        if not version:
            return ""
        canonical = lookup_version(version)
        if canonical is None:
            raise forms.ValidationError("Not a PEP 440 version.")
        return canonical


@admin.register(ReleaseAgeExemption)
class ReleaseAgeExemptionAdmin(ScaledAdmin):
    form = ExemptionForm
    list_display = ["normalized_name", "version", "reason", "expires", "active", "created_by"]
    search_fields = ["normalized_name", "reason"]

    @admin.display(boolean=True)
    def active(self, obj: ReleaseAgeExemption) -> bool:
        return obj.expires > timezone.now()

    def save_model(self, request, obj: ReleaseAgeExemption, form, change) -> None:
        obj.created_by = obj.created_by or request.user
        super().save_model(request, obj, form, change)
