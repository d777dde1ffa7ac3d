"""Staff admin for organizations: review new ones, freeze them, read their members, teams,
invitations and history. Every moderation action asks for a reason on its own page and calls
organizations/moderation.py; rows are otherwise read-only here (members manage their own)."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from organizations import moderation
from organizations.models import (
    Organization,
    OrganizationEvent,
    OrganizationInvitation,
    OrganizationRole,
    Team,
    TeamMember,
)
from pypi_site.admin import ReadOnlyAdmin, confirm_action


class OrganizationRoleInline(admin.TabularInline):
    model = OrganizationRole
    extra = 0
    fields = ("user", "role_name")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class TeamInline(admin.TabularInline):
    model = Team
    extra = 0
    fields = ("name", "created")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Organization)
class OrganizationAdmin(ReadOnlyAdmin):
    list_display = ("name", "display_name", "status", "is_active", "created", "created_by")
    list_select_related = ("created_by",)
    list_filter = ("status", "is_active")
    search_fields = ("normalized_name",)
    search_help_text = "The start of an organization's name, in any spelling."
    fields = (
        "name",
        "normalized_name",
        "display_name",
        "link_url",
        "description",
        "status",
        "is_active",
        "created",
        "created_by",
        "reviewed_at",
    )
    readonly_fields = fields
    inlines = (OrganizationRoleInline, TeamInline)
    actions = ("approve", "decline", "freeze", "unfreeze", "delete_organizations")

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet, search_term: str
    ) -> tuple[QuerySet, bool]:
        term = search_term.strip().lower().replace("_", "-").replace(".", "-")
        if not term:
            return queryset, False
        return queryset.filter(normalized_name__startswith=term), False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        # The actions below need it; the form itself is all read-only fields.
        return request.user.has_perm("organizations.change_organization")

    def has_delete_organizations_permission(self, request: HttpRequest) -> bool:
        # Not has_delete_permission: that would also open Django's own delete views, which
        # skip the rule that an organization owning projects stays.
        return request.user.has_perm("organizations.delete_organization")

    def _action(self, request: HttpRequest, queryset: QuerySet, title: str, apply, warning=""):
        return confirm_action(
            self,
            request,
            queryset,
            title=title,
            warning=warning,
            apply=lambda organization, data: apply(
                organization=organization, reason=data["reason"], by=request.user
            ),
        )

    @admin.action(description="Approve selected organizations", permissions=["change"])
    def approve(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        return self._action(
            request, queryset, "Approve organizations", moderation.approve_organization
        )

    @admin.action(description="Decline selected organizations", permissions=["change"])
    def decline(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        return self._action(
            request,
            queryset,
            "Decline organizations",
            moderation.decline_organization,
            warning="A declined organization grants nothing and its name is free again.",
        )

    @admin.action(description="Freeze selected organizations", permissions=["change"])
    def freeze(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        return self._action(
            request,
            queryset,
            "Freeze organizations",
            moderation.freeze_organization,
            warning="Team roles and Owners' powers over the organization's projects lapse, "
            "and its projects refuse uploads, until it is unfrozen.",
        )

    @admin.action(description="Unfreeze selected organizations", permissions=["change"])
    def unfreeze(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        return self._action(
            request, queryset, "Unfreeze organizations", moderation.unfreeze_organization
        )

    @admin.action(
        description="Delete selected organizations (owning no projects)",
        permissions=["delete_organizations"],
    )
    def delete_organizations(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        return self._action(
            request,
            queryset,
            "Delete organizations",
            moderation.delete_organization,
            warning="Its members, teams and invitations go for good; its history stays. An "
            "organization that still owns projects is left alone.",
        )


@admin.register(OrganizationRole)
class OrganizationRoleAdmin(ReadOnlyAdmin):
    list_display = ("organization", "user", "role_name")
    list_select_related = ("organization", "user")
    list_filter = ("role_name",)


@admin.register(Team)
class TeamAdmin(ReadOnlyAdmin):
    list_display = ("name", "organization", "created")
    list_select_related = ("organization",)


@admin.register(TeamMember)
class TeamMemberAdmin(ReadOnlyAdmin):
    list_display = ("team", "user")
    list_select_related = ("team__organization", "user")


@admin.register(OrganizationInvitation)
class OrganizationInvitationAdmin(ReadOnlyAdmin):
    list_display = ("organization", "user", "role_name", "status", "created", "expires")
    list_select_related = ("organization", "user")
    list_filter = ("status",)


@admin.register(OrganizationEvent)
class OrganizationEventAdmin(ReadOnlyAdmin):
    list_display = ("time", "organization_name", "tag", "user", "ip_address")
    list_select_related = ("user",)
    list_filter = ("tag",)
    search_fields = ("organization_name",)
    readonly_fields = [f.name for f in OrganizationEvent._meta.fields]
