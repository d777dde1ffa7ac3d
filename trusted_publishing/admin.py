"""Staff's view of trusted publishing: generic issuers (registered only here), publishers,
pending publishers, and which minted token came from which publisher with what claims."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from packages.events import record_project_event
from packages.names import normalize_name
from pypi_site.admin import ReadOnlyAdmin, ScaledAdmin
from trusted_publishing.models import (
    MatchRule,
    OidcIssuer,
    PendingPublisher,
    PublisherToken,
    TrustedPublisher,
)
from trusted_publishing.publishers import (
    EventTag,
    PublisherError,
    clean_fields,
    pending_name_denial,
    publisher_kinds_fields,
    remove_publisher,
)

RULE_EXAMPLE = (
    '[{"claim": "repository", "match": "exact"}, {"claim": "workflow_ref", "match": "ref"}]'
)


class OidcIssuerForm(forms.ModelForm):
    class Meta:
        model = OidcIssuer
        fields = ("name", "issuer_url", "audience", "claim_rules", "enabled")
        help_texts = {
            "claim_rules": "A JSON list of rules, e.g. "
            + RULE_EXAMPLE
            + ". match: "
            + ", ".join(f"{value} ({label})" for value, label in MatchRule.choices)
            + ". Every publisher of this issuer gives a value for each claim.",
        }

    def clean_issuer_url(self) -> str:
        return self.cleaned_data["issuer_url"].rstrip("/")

    def clean_claim_rules(self) -> list:
        rules = self.cleaned_data["claim_rules"]
        if not isinstance(rules, list) or not rules:
            raise forms.ValidationError("Give at least one rule, as a JSON list.")
        for rule in rules:
            if (
                not isinstance(rule, dict)
                or not isinstance(rule.get("claim"), str)
                or not rule["claim"]
                or rule.get("match", MatchRule.EXACT) not in MatchRule.values
                or set(rule) - {"claim", "match"}
            ):
                raise forms.ValidationError(f"Not a rule: {rule!r}; e.g. {RULE_EXAMPLE}")
        return rules


@admin.register(OidcIssuer)
class OidcIssuerAdmin(ScaledAdmin):
    form = OidcIssuerForm
    list_display = ("name", "issuer_url", "audience", "enabled", "created")
    list_filter = ("enabled",)


class PublisherAdminForm(forms.ModelForm):
    def clean(self) -> dict:
        cleaned = super().clean()
        try:
            clean_fields(**{k: v for k, v in cleaned.items() if k not in {"project", "added_by"}})
        except PublisherError as exc:
            raise forms.ValidationError(str(exc)) from None
        return cleaned


@admin.register(TrustedPublisher)
class TrustedPublisherAdmin(ScaledAdmin):
    form = PublisherAdminForm
    list_display = ("__str__", "kind", "project", "added_by", "created")
    list_filter = ("kind",)
    search_fields = ("project__name", "owner", "repository", "email")
    raw_id_fields = ("project", "added_by")
    readonly_fields = ("details",)

    @admin.display(description="Details")
    def details(self, obj: TrustedPublisher) -> str:
        return "; ".join(f"{label}: {value}" for label, value in publisher_kinds_fields(obj))

    def save_model(self, request: HttpRequest, obj, form, change: bool) -> None:
        super().save_model(request, obj, form, change)
        tag = EventTag.PUBLISHER_CHANGE if change else EventTag.PUBLISHER_ADD
        record_project_event(
            project=obj.project, tag=tag, user=request.user, publisher=obj.specifier
        )

    def delete_model(self, request: HttpRequest, obj: TrustedPublisher) -> None:
        remove_publisher(publisher=obj, by=request.user)

    def delete_queryset(self, request: HttpRequest, queryset) -> None:
        for publisher in queryset:
            remove_publisher(publisher=publisher, by=request.user)


class PendingPublisherAdminForm(PublisherAdminForm):
    def clean_project_name(self) -> str:
        name = self.cleaned_data["project_name"].strip()
        if (denial := pending_name_denial(name)) is not None:
            raise forms.ValidationError(denial)
        return name


@admin.register(PendingPublisher)
class PendingPublisherAdmin(ScaledAdmin):
    form = PendingPublisherAdminForm
    list_display = ("__str__", "kind", "project_name", "added_by", "created")
    list_filter = ("kind",)
    search_fields = ("project_name", "owner", "repository", "email")
    raw_id_fields = ("added_by",)

    def save_model(self, request: HttpRequest, obj: PendingPublisher, form, change: bool) -> None:
        obj.normalized_name = normalize_name(obj.project_name)
        super().save_model(request, obj, form, change)


@admin.register(PublisherToken)
class PublisherTokenAdmin(ReadOnlyAdmin):
    list_display = ("token_identifier", "specifier", "claims", "created")
    search_fields = ("specifier", "token_identifier")

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
