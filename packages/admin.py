"""Staff admin for projects, releases, files, names, roles, the journal and site flags.

Rows that record history (files' hashes and names, the journal, events, the filename registry)
are read-only. Every moderation action asks for a reason on its own page and calls the domain
function in packages/moderation.py that the commands call too. Who may do what is plain Django
permissions, granted through the "moderators" and "administrators" groups (packages/staff.py).
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import admin
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils.html import format_html
from packaging.utils import InvalidName

from packages import collaboration, moderation
from packages.events import record_project_event
from packages.journal import record_change
from packages.models import (
    AdminFlag,
    File,
    FilenameRegistry,
    JournalEntry,
    ProhibitedProjectName,
    Project,
    ProjectEvent,
    Release,
    Role,
    RoleInvitation,
    RoleName,
    TeamProjectRole,
)
from packages.names import normalize_name, ultranormalize_name
from pypi_site.admin import ReadOnlyAdmin, ReasonForm, ScaledAdmin, confirm_action


def name_terms(search_term: str) -> tuple[str, str]:
    """A search box entry as (normalized or lowercased, ultranormalized) forms of a name."""
    term = search_term.strip()
    try:
        normalized = normalize_name(term)
    except InvalidName:
        normalized = term.lower()
    return normalized, ultranormalize_name(term)


def changelist_link(model: type, label: str, **filters: object) -> str:
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    query = "&".join(f"{key}={value}" for key, value in filters.items())
    return format_html('<a href="{}?{}">{}</a>', url, query, label)


class RemovePermissionMixin:
    """Removal goes through an action that asks for a reason and calls the domain function;
    Django's own delete page would skip both. Only administrators hold the delete permission."""

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_remove_permission(self, request: HttpRequest) -> bool:
        opts = self.model._meta
        return request.user.has_perm(f"{opts.app_label}.delete_{opts.model_name}")


# --- Projects -------------------------------------------------------------------------------


class QuarantineForm(ReasonForm):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
        help_text="For staff only: kept in admin and the project's events with your name.",
    )
    notice = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 80}),
        help_text="Public: shown on the project's page and to its owners. Empty for: "
        f"“{moderation.DEFAULT_QUARANTINE_NOTICE}”",
    )
    freeze_users = forms.BooleanField(
        required=False, help_text="Also freeze every user with a role on the project."
    )


class LimitsForm(ReasonForm):
    upload_limit_mib = forms.IntegerField(
        required=False,
        label="File size limit (MiB)",
        help_text=f"100 to {settings.MAX_UPLOAD_LIMIT // 1024**2}; empty for the site default.",
    )
    total_size_limit_gib = forms.IntegerField(
        required=False,
        label="Total size limit (GiB)",
        help_text=f"At least {settings.DEFAULT_TOTAL_SIZE_LIMIT // 1024**3}; empty for the "
        "site default.",
    )

    def clean(self) -> dict:
        data = super().clean()
        mib, gib = data.get("upload_limit_mib"), data.get("total_size_limit_gib")
        data["upload_limit"] = mib * 1024**2 if mib is not None else None
        data["total_size_limit"] = gib * 1024**3 if gib is not None else None
        try:
            moderation.check_limits(
                upload_limit=data["upload_limit"], total_size_limit=data["total_size_limit"]
            )
        except moderation.ModerationError as exc:
            raise forms.ValidationError(str(exc)) from None
        return data


class RemoveProjectForm(ReasonForm):
    """As on PyPI, the staff member retypes the project's name."""

    takes_objects = True
    confirm = forms.CharField(label="Type the project's name to confirm")

    def __init__(self, *args: object, objects: QuerySet, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.objects = objects

    def clean_confirm(self) -> str:
        names = [p.name for p in self.objects[:2]]
        if len(names) != 1:
            raise forms.ValidationError("Remove one project at a time.")
        if self.cleaned_data["confirm"].strip() != names[0]:
            raise forms.ValidationError(f"Type {names[0]!r} exactly.")
        return self.cleaned_data["confirm"]


class RoleInline(admin.TabularInline):
    model = Role
    extra = 0
    fields = ("user", "role_name")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Project)
class ProjectAdmin(RemovePermissionMixin, ScaledAdmin):
    list_display = (
        "name",
        "normalized_name",
        "status",
        "size",
        "upload_limit_display",
        "created",
        "last_serial",
    )
    list_filter = ("lifecycle_status", "is_private")
    search_fields = ("normalized_name",)
    search_help_text = "A name in any spelling: matches names containing it, and look-alikes."
    fields = (
        "name",
        "normalized_name",
        "ultranormalized_name",
        "organization",
        "status",
        "is_private",
        "lifecycle_status_note",
        "quarantine_notice",
        "quarantine_reason",
        "created",
        "size",
        "upload_limit_display",
        "total_size_limit_display",
        "last_serial",
        "history",
    )
    readonly_fields = fields
    inlines = (RoleInline,)
    actions = (
        "quarantine",
        "clear_quarantine",
        "set_limits",
        "prohibit_names",
        "remove",
    )

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet, search_term: str
    ) -> tuple[QuerySet, bool]:
        # The normalized name has a b-tree, a pattern index and (PostgreSQL) a trigram index;
        # the ultranormalized name has a b-tree. Nothing else is searched.
        if not search_term.strip():
            return queryset, False
        normalized, ultra = name_terms(search_term)
        return (
            queryset.filter(
                Q(normalized_name__contains=normalized) | Q(ultranormalized_name=ultra)
            ),
            False,
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # Projects are created by their first upload.

    def has_prohibit_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("packages.add_prohibitedprojectname")

    @admin.display(description="Status", ordering="lifecycle_status")
    def status(self, project: Project) -> str:
        return project.get_lifecycle_status_display()

    @admin.display(description="Total size", ordering="total_size")
    def size(self, project: Project) -> str:
        return filesizeformat(project.total_size)

    @admin.display(description="File limit")
    def upload_limit_display(self, project: Project) -> str:
        return filesizeformat(project.effective_upload_limit) + (
            "" if project.upload_limit else " (default)"
        )

    @admin.display(description="Total limit")
    def total_size_limit_display(self, project: Project) -> str:
        return filesizeformat(project.effective_total_size_limit) + (
            "" if project.total_size_limit else " (default)"
        )

    @admin.display(description="History")
    def history(self, project: Project) -> str:
        return format_html(
            "{} · {} · {} · {}",
            changelist_link(Release, "Releases", project__exact=project.pk),
            changelist_link(File, "Files", release__project__exact=project.pk),
            changelist_link(ProjectEvent, "Events", project__exact=project.pk),
            changelist_link(JournalEntry, "Journal", q=project.name),
        )

    @admin.action(description="Quarantine selected projects", permissions=["change"])
    def quarantine(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        return confirm_action(
            self,
            request,
            queryset,
            title="Quarantine projects",
            form_class=QuarantineForm,
            warning="Quarantined projects leave the simple index and the JSON API, list no "
            "files, and refuse uploads until the quarantine is cleared.",
            apply=lambda project, data: moderation.quarantine_project(
                project=project,
                reason=data["reason"],
                notice=data["notice"],
                by=request.user,
                freeze_users=data["freeze_users"],
            ),
        )

    @admin.action(description="Clear quarantine of selected projects", permissions=["change"])
    def clear_quarantine(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        return confirm_action(
            self,
            request,
            queryset,
            title="Clear quarantine",
            apply=lambda project, data: moderation.clear_quarantine(
                project=project, reason=data["reason"], by=request.user
            ),
        )

    @admin.action(description="Set size limits of selected projects", permissions=["change"])
    def set_limits(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        return confirm_action(
            self,
            request,
            queryset,
            title="Set size limits",
            form_class=LimitsForm,
            apply=lambda project, data: moderation.set_project_limits(
                project=project,
                upload_limit=data["upload_limit"],
                total_size_limit=data["total_size_limit"],
                reason=data["reason"],
                by=request.user,
            ),
        )

    @admin.action(description="Prohibit the names of selected projects", permissions=["prohibit"])
    def prohibit_names(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        return confirm_action(
            self,
            request,
            queryset,
            title="Prohibit names",
            warning="The projects stay; no new project may take these names or look-alikes.",
            apply=lambda project, data: moderation.prohibit_name(
                name=project.name, comment=data["reason"], by=request.user
            ),
        )

    @admin.action(description="Remove selected project", permissions=["remove"])
    def remove(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        return confirm_action(
            self,
            request,
            queryset,
            title="Remove project",
            form_class=RemoveProjectForm,
            warning="Deletes the project, its releases and files, and the stored files. "
            "Its filenames stay reserved. This cannot be undone.",
            apply=lambda project, data: moderation.remove_project(
                project=project, reason=data["reason"], by=request.user
            ),
        )


# --- Releases and files ---------------------------------------------------------------------


def _project_ids_for(search_term: str) -> QuerySet:
    normalized, ultra = name_terms(search_term)
    return Project.objects.filter(
        Q(normalized_name=normalized) | Q(ultranormalized_name=ultra)
    ).values("pk")


@admin.register(Release)
class ReleaseAdmin(RemovePermissionMixin, ScaledAdmin):
    list_display = ("__str__", "project", "version", "created", "yanked", "uploader")
    list_select_related = ("project", "uploader")
    list_filter = ("yanked", "is_prerelease")
    search_fields = ("version",)
    search_help_text = "A project name (any spelling), optionally followed by a version."
    # Metadata is what the uploader sent; as on PyPI, nobody edits it.
    readonly_fields = [f.name for f in Release._meta.fields if f.name != "description_html"]
    actions = ("remove",)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet, search_term: str
    ) -> tuple[QuerySet, bool]:
        name, _, version = search_term.strip().partition(" ")
        if not name:
            return queryset, False
        queryset = queryset.filter(project__in=_project_ids_for(name))
        if version.strip():
            queryset = queryset.filter(version=version.strip())
        return queryset, False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Remove selected releases", permissions=["remove"])
    def remove(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        return confirm_action(
            self,
            request,
            queryset.select_related("project"),
            title="Remove releases",
            warning="Deletes the releases, their files and the stored files. Their filenames "
            "stay reserved. This cannot be undone.",
            apply=lambda release, data: moderation.remove_release(
                release=release, reason=data["reason"], by=request.user
            ),
        )


@admin.register(File)
class FileAdmin(RemovePermissionMixin, ScaledAdmin):
    list_display = (
        "filename",
        "project",
        "version",
        "packagetype",
        "file_size",
        "upload_time",
        "deleted_at",
    )
    list_select_related = ("release__project",)
    # "Deleted at: not empty" lists the files owners deleted, kept for the point-in-time view.
    list_filter = ("packagetype", ("deleted_at", admin.EmptyFieldListFilter))
    search_fields = ("filename",)
    search_help_text = "The start of a filename, or a whole sha256 or blake2b-256 digest."
    readonly_fields = [f.name for f in File._meta.fields]
    actions = ("remove",)

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest = None) -> bool:
        # The project page links to its files.
        return lookup == "release__project__exact" or super().lookup_allowed(lookup, value, request)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet, search_term: str
    ) -> tuple[QuerySet, bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        query = Q(filename__startswith=term)
        if len(term) == 64:
            query |= Q(sha256_digest=term.lower()) | Q(blake2_256_digest=term.lower())
        return queryset.filter(query), False

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        # Kept deleted files too, so staff can find and purge one (malware found later).
        return File.all_objects.all()

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(ordering="release__project")
    def project(self, file: File) -> Project:
        return file.release.project

    @admin.display(ordering="release__version")
    def version(self, file: File) -> str:
        return file.release.version

    @admin.display(description="Size", ordering="size")
    def file_size(self, file: File) -> str:
        return filesizeformat(file.size)

    @admin.action(description="Remove selected files", permissions=["remove"])
    def remove(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        return confirm_action(
            self,
            request,
            queryset.select_related("release__project"),
            title="Remove files",
            warning="Deletes the files and their stored objects, also from the point-in-time "
            "view (/as-of/) of every moment. The filenames stay reserved: no file may use "
            "them again. This cannot be undone.",
            apply=lambda file, data: moderation.remove_file(
                file=file, reason=data["reason"], by=request.user
            ),
        )


@admin.register(FilenameRegistry)
class FilenameRegistryAdmin(ReadOnlyAdmin):
    list_display = ("filename", "created")
    search_fields = ("filename",)
    search_help_text = "The start of a filename."

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet, search_term: str
    ) -> tuple[QuerySet, bool]:
        term = search_term.strip()
        return (queryset.filter(filename__startswith=term) if term else queryset), False


# --- Names ----------------------------------------------------------------------------------


class ProhibitedNameForm(forms.ModelForm):
    class Meta:
        model = ProhibitedProjectName
        fields = ("name", "comment")

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        try:
            normalize_name(name)
        except InvalidName:
            raise forms.ValidationError("Not a valid project name.") from None
        return name

    def clean_comment(self) -> str:
        if not self.cleaned_data["comment"].strip():
            raise forms.ValidationError("Say why the name is prohibited.")
        return self.cleaned_data["comment"]


@admin.register(ProhibitedProjectName)
class ProhibitedProjectNameAdmin(ScaledAdmin):
    form = ProhibitedNameForm
    list_display = ("name", "normalized_name", "comment", "prohibited_by", "created")
    list_select_related = ("prohibited_by",)
    search_fields = ("normalized_name",)
    search_help_text = "A name in any spelling, or a look-alike."

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet, search_term: str
    ) -> tuple[QuerySet, bool]:
        if not search_term.strip():
            return queryset, False
        normalized, ultra = name_terms(search_term)
        return (
            queryset.filter(
                Q(normalized_name__startswith=normalized) | Q(ultranormalized_name=ultra)
            ),
            False,
        )

    def get_readonly_fields(self, request: HttpRequest, obj: object = None) -> tuple[str, ...]:
        return ("name",) if obj is not None else ()

    def save_model(self, request: HttpRequest, obj: ProhibitedProjectName, form, change) -> None:
        saved = moderation.prohibit_name(
            name=obj.name, comment=form.cleaned_data["comment"], by=request.user
        )
        obj.pk = saved.pk


# --- Roles, invitations, journal, events ----------------------------------------------------


class RoleForm(forms.ModelForm):
    class Meta:
        model = Role
        fields = ("project", "user", "role_name")

    def clean(self) -> dict:
        data = super().clean()
        role = self.instance
        if (
            role.pk
            and Role.objects.get(pk=role.pk).role_name == RoleName.OWNER
            and data.get("role_name") != RoleName.OWNER
            and _owner_count(role.project_id) <= 1
        ):
            raise forms.ValidationError("Cannot remove the last Owner of a project.")
        return data


def _owner_count(project_id: int) -> int:
    return Role.objects.filter(project_id=project_id, role_name=RoleName.OWNER).count()


@admin.register(Role)
class RoleAdmin(ScaledAdmin):
    """Role changes go through the same functions as an Owner's collaborators page (journal
    and project event included); adding one directly is the staff's shortcut past an
    invitation, journaled as on PyPI."""

    form = RoleForm
    list_display = ("project", "user", "role_name")
    list_select_related = ("project", "user")
    list_filter = ("role_name",)
    autocomplete_fields = ("project", "user")
    search_fields = ("project__normalized_name",)
    search_help_text = "A project name (any spelling) or a username."
    actions = ("remove",)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet, search_term: str
    ) -> tuple[QuerySet, bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        return queryset.filter(
            Q(project__in=_project_ids_for(term)) | Q(user__username=term)
        ), False

    def get_readonly_fields(self, request: HttpRequest, obj: object = None) -> tuple[str, ...]:
        return ("project", "user") if obj is not None else ()

    def has_delete_permission(self, request: HttpRequest, obj: Role | None = None) -> bool:
        if (
            obj is not None
            and obj.role_name == RoleName.OWNER
            and _owner_count(obj.project_id) <= 1
        ):
            return False  # Never the last Owner.
        return super().has_delete_permission(request, obj)

    def has_remove_permission(self, request: HttpRequest) -> bool:
        return super().has_delete_permission(request)

    @transaction.atomic
    def save_model(self, request: HttpRequest, obj: Role, form, change: bool) -> None:
        if change:
            collaboration.change_role(role=obj, role_name=obj.role_name, by=request.user)
            return
        super().save_model(request, obj, form, change)
        name = obj.user.get_username()
        record_change(project=obj.project, action=f"add {obj.role_name} {name}", user=request.user)
        record_project_event(
            project=obj.project,
            tag=collaboration.EventTag.ROLE_ADD,
            user=request.user,
            role_name=obj.role_name,
            target_user=name,
        )

    def delete_model(self, request: HttpRequest, obj: Role) -> None:
        collaboration.remove_role(role=obj, by=request.user)

    @admin.action(description="Remove selected roles", permissions=["remove"])
    def remove(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        def apply(role: Role, data: dict) -> None:
            try:
                collaboration.remove_role(role=role, by=request.user)
            except collaboration.CollaborationError as exc:
                raise moderation.ModerationError(str(exc)) from None

        return confirm_action(
            self,
            request,
            queryset.select_related("project", "user"),
            title="Remove roles",
            apply=apply,
        )


@admin.register(RoleInvitation)
class RoleInvitationAdmin(ScaledAdmin):
    list_display = ("project", "user", "role_name", "status", "invited_by", "created", "expires")
    list_select_related = ("project", "user", "invited_by")
    list_filter = ("status", "role_name")
    search_fields = ("project__normalized_name",)
    search_help_text = "A project name (any spelling) or a username."
    readonly_fields = ("project", "user", "role_name", "invited_by", "created")
    autocomplete_fields = ("project", "user")

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet, search_term: str
    ) -> tuple[QuerySet, bool]:
        return RoleAdmin.get_search_results(self, request, queryset, search_term)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # Invitations come from Owners.


@admin.register(TeamProjectRole)
class TeamProjectRoleAdmin(ReadOnlyAdmin):
    """Owners give teams roles on the collaborators page (packages/ownership.py)."""

    list_display = ("project", "team", "role_name")
    list_select_related = ("project", "team__organization")
    list_filter = ("role_name",)


@admin.register(JournalEntry)
class JournalEntryAdmin(ReadOnlyAdmin):
    list_display = ("id", "name", "version", "action", "submitted_date", "submitted_by_name")
    search_fields = ("name",)
    search_help_text = "A project name (any spelling, or as it was when journaled) or a serial."

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet, search_term: str
    ) -> tuple[QuerySet, bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        if term.isdigit():
            return queryset.filter(pk=int(term)), False
        names = {term} | set(
            Project.objects.filter(normalized_name=name_terms(term)[0]).values_list(
                "name", flat=True
            )
        )
        return queryset.filter(name__in=names), False


@admin.register(ProjectEvent)
class ProjectEventAdmin(ReadOnlyAdmin):
    list_display = ("time", "project_name", "tag", "user", "reason")
    list_select_related = ("user",)
    search_fields = ("project_name",)
    search_help_text = "A project name as it was when the event happened."

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet, search_term: str
    ) -> tuple[QuerySet, bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        names = {term} | set(
            Project.objects.filter(normalized_name=name_terms(term)[0]).values_list(
                "name", flat=True
            )
        )
        return queryset.filter(project_name__in=names), False

    @admin.display(description="Reason")
    def reason(self, event: ProjectEvent) -> str:
        additional = event.additional
        return str(additional.get("reason") or additional.get(moderation.STAFF_REASON, ""))[:200]


# --- Site flags -----------------------------------------------------------------------------


class AdminFlagForm(forms.ModelForm):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), help_text="Recorded with your name."
    )

    class Meta:
        model = AdminFlag
        fields = ("enabled", "banner")


@admin.register(AdminFlag)
class AdminFlagAdmin(ScaledAdmin):
    """Flags are a fixed set (created by `migrate`); switching one asks for a reason."""

    form = AdminFlagForm
    list_display = ("id", "enabled", "banner")
    ordering = ("id",)
    actions = ("enable", "disable")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: AdminFlag, form, change: bool) -> None:
        moderation.set_flag(
            flag=obj.pk,
            enabled=obj.enabled,
            banner=obj.banner,
            reason=form.cleaned_data["reason"],
            by=request.user,
        )

    def log_change(self, request: HttpRequest, obj: object, message: object):
        return None  # moderation.set_flag logs the change with its reason.

    def _switch(self, request: HttpRequest, queryset: QuerySet, *, enabled: bool):
        return confirm_action(
            self,
            request,
            queryset,
            title="Enable flags" if enabled else "Disable flags",
            apply=lambda flag, data: moderation.set_flag(
                flag=flag.pk, enabled=enabled, reason=data["reason"], by=request.user
            ),
        )

    @admin.action(description="Enable selected flags", permissions=["change"])
    def enable(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        return self._switch(request, queryset, enabled=True)

    @admin.action(description="Disable selected flags", permissions=["change"])
    def disable(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        return self._switch(request, queryset, enabled=False)
