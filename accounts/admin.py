"""Staff admin for users, their accounts, addresses, tokens and history.

Django's User admin gains the account (frozen or not, 2FA or not) inline and the account
actions: freeze and unfreeze (moderators), reset the password and remove 2FA after an identity
check (administrators). Secrets (token hashes, TOTP secrets, recovery code hashes) never show.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse

from accounts import moderation
from accounts.models import Account, ApiToken, Email, RecoveryCode, UserEvent
from pypi_site.admin import ReadOnlyAdmin, ReasonForm, ScaledAdmin, confirm_action

User = get_user_model()


def user_search(queryset: QuerySet, search_term: str, prefix: str = "") -> QuerySet:
    """Username prefix (the unique index and, on PostgreSQL, its pattern index) or a whole
    email address."""
    term = search_term.strip()
    if not term:
        return queryset
    query = Q(**{f"{prefix}username__startswith": term})
    if "@" in term:
        query |= Q(**{f"{prefix}email__iexact": term})
    return queryset.filter(query)


class IdentityCheckForm(ReasonForm):
    identity_check = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
        label="How the identity was checked",
        help_text="For example: the request came from the verified primary address, and the "
        "user named a recent upload. Kept in the user's history.",
    )


class AccountActionsMixin:
    """Freeze, unfreeze, reset password and remove 2FA, on a list of users (`user_of` maps a
    selected row to its user)."""

    @staticmethod
    def user_of(obj: object):
        return obj

    def has_freeze_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("accounts.change_account")

    def has_recover_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("auth.change_user")

    @admin.action(description="Freeze selected users", permissions=["freeze"])
    def freeze(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        return confirm_action(
            self,
            request,
            queryset,
            title="Freeze users",
            warning="Frozen users cannot log in or upload, and their API tokens stop working, "
            "until they are unfrozen.",
            apply=lambda obj, data: moderation.freeze_user(
                user=self.user_of(obj), reason=data["reason"], by=request.user
            ),
        )

    @admin.action(description="Unfreeze selected users", permissions=["freeze"])
    def unfreeze(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        return confirm_action(
            self,
            request,
            queryset,
            title="Unfreeze users",
            apply=lambda obj, data: moderation.unfreeze_user(
                user=self.user_of(obj), reason=data["reason"], by=request.user
            ),
        )

    @admin.action(description="Reset password of selected users", permissions=["recover"])
    def reset_password(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        return confirm_action(
            self,
            request,
            queryset,
            title="Reset passwords",
            warning="The password stops working at once; each user is emailed a link to set "
            "a new one.",
            apply=lambda obj, data: moderation.reset_password(
                user=self.user_of(obj),
                reason=data["reason"],
                by=request.user,
            ),
        )

    @admin.action(
        description="Remove two-factor authentication (account recovery)",
        permissions=["recover"],
    )
    def remove_two_factor(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        return confirm_action(
            self,
            request,
            queryset,
            title="Remove two-factor authentication",
            form_class=IdentityCheckForm,
            warning="Only after checking that the person asking owns the account. Their TOTP "
            "app and recovery codes stop working.",
            apply=lambda obj, data: moderation.remove_two_factor(
                user=self.user_of(obj),
                reason=data["reason"],
                identity_check=data["identity_check"],
                by=request.user,
            ),
        )


class AccountInline(admin.StackedInline):
    model = Account
    can_delete = False
    fields = ("is_frozen", "frozen_reason", "frozen_at", "two_factor")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    @admin.display(boolean=True, description="Two-factor authentication")
    def two_factor(self, account: Account) -> bool:
        return account.has_totp


class EmailInline(admin.TabularInline):
    model = Email
    extra = 0
    fields = ("email", "primary", "verified", "created", "verified_at")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


admin.site.unregister(User)


@admin.register(User)
class IndexUserAdmin(AccountActionsMixin, UserAdmin):
    inlines = (AccountInline, EmailInline)
    list_display = ("username", "email", "is_staff", "is_active", "frozen", "date_joined")
    list_select_related = ("account",)
    list_filter = ("is_staff", "is_superuser", "is_active", "account__is_frozen", "groups")
    search_fields = ("username",)
    search_help_text = "The start of a username, or a whole email address."
    ordering = ("-pk",)
    show_full_result_count = False
    paginator = ScaledAdmin.paginator
    list_per_page = ScaledAdmin.list_per_page
    actions = ("freeze", "unfreeze", "reset_password", "remove_two_factor")

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet, search_term: str
    ) -> tuple[QuerySet, bool]:
        return user_search(queryset, search_term), False

    @admin.display(boolean=True, description="Frozen", ordering="account__is_frozen")
    def frozen(self, user) -> bool:
        account = getattr(user, "account", None)
        return bool(account and account.is_frozen)

    def get_actions(self, request: HttpRequest) -> dict:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions


@admin.register(Account)
class AccountAdmin(AccountActionsMixin, ScaledAdmin):
    list_display = ("user", "is_frozen", "frozen_at", "frozen_reason")
    list_select_related = ("user",)
    list_filter = ("is_frozen",)
    search_fields = ("user__username",)
    search_help_text = "The start of a username, or a whole email address."
    fields = ("user", "is_frozen", "frozen_reason", "frozen_at")
    readonly_fields = fields
    actions = ("freeze", "unfreeze", "reset_password", "remove_two_factor")

    @staticmethod
    def user_of(account: Account):
        return account.user

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet, search_term: str
    ) -> tuple[QuerySet, bool]:
        return user_search(queryset, search_term, prefix="user__"), False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(ApiToken)
class ApiTokenAdmin(ScaledAdmin):
    """Tokens are read-only; administrators may delete one, which revokes it at once."""

    list_display = ("identifier", "user", "description", "created", "last_used", "expires")
    list_select_related = ("user",)
    search_fields = ("identifier",)
    search_help_text = (
        "A token's identifier (between the prefix and the dot) or a username's start."
    )
    fields = (
        "identifier",
        "user",
        "description",
        "scope",
        "read_only",
        "created",
        "last_used",
        "expires",
    )
    readonly_fields = fields

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet, search_term: str
    ) -> tuple[QuerySet, bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        return queryset.filter(Q(identifier=term) | Q(user__username__startswith=term)), False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description="Projects")
    def scope(self, token: ApiToken) -> str:
        return token.scope_description

    def get_actions(self, request: HttpRequest) -> dict:
        # Deleting a token only revokes it, so Django's bulk delete is fine here.
        return admin.ModelAdmin.get_actions(self, request)


@admin.register(Email)
class EmailAdmin(ReadOnlyAdmin):
    list_display = ("email", "user", "primary", "verified", "created")
    list_select_related = ("user",)
    list_filter = ("verified", "primary")
    search_fields = ("email",)
    search_help_text = "A whole email address, or the start of a username."

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet, search_term: str
    ) -> tuple[QuerySet, bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        return queryset.filter(Q(email__iexact=term) | Q(user__username__startswith=term)), False


@admin.register(UserEvent)
class UserEventAdmin(ReadOnlyAdmin):
    list_display = ("time", "user", "tag", "ip_address")
    list_select_related = ("user",)
    list_filter = ("tag",)
    search_fields = ("user__username",)
    search_help_text = "The start of a username."
    ordering = ("-time", "-id")

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet, search_term: str
    ) -> tuple[QuerySet, bool]:
        return user_search(queryset, search_term, prefix="user__"), False


@admin.register(RecoveryCode)
class RecoveryCodeAdmin(ReadOnlyAdmin):
    """Only whether a user has codes left; the hashes never show."""

    list_display = ("user", "created", "used_at")
    list_select_related = ("user",)
    fields = ("user", "created", "used_at")
    search_fields = ("user__username",)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet, search_term: str
    ) -> tuple[QuerySet, bool]:
        return user_search(queryset, search_term, prefix="user__"), False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        # Burning a user's recovery codes is an administrator's recovery step.
        return request.user.has_perm("accounts.delete_recoverycode")
