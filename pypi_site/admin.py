"""Admin plumbing shared by every app's `admin.py`: lists that stay fast on PyPI-sized tables,
and actions that ask for a reason on a page of their own before they run.

Why the lists are shaped this way:
- Django counts every changelist twice (filtered and total). `show_full_result_count = False`
  drops the total; `EstimatedCountPaginator` replaces the filtered count with PostgreSQL's
  planner estimate when nothing is filtered, and stops counting at `COUNT_LIMIT` otherwise.
- Lists order by the primary key, which is indexed, and each admin searches only columns with
  an index (see each `get_search_results`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.paginator import Paginator
from django.db import connections
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.functional import cached_property

admin.site.site_header = "Package index administration"
admin.site.site_title = "Package index admin"
admin.site.index_title = "Moderation and data"

# Past this many matches a filtered list says "10000" and pages no further; nobody reads page
# 101 of an admin list, and counting millions of rows would cost seconds on every page.
COUNT_LIMIT = 10_000
# A confirmation page lists this many of the selected objects, then says how many more.
SHOWN_OBJECTS = 100


class EstimatedCountPaginator(Paginator):
    """A paginator that never counts a huge table."""

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if not isinstance(queryset, QuerySet):
            return len(queryset)
        connection = connections[queryset.db]
        # Unfiltered: no condition beyond the default manager's own (packages' live rows).
        unfiltered = queryset.model._default_manager.all().query.where
        if connection.vendor == "postgresql" and queryset.query.where == unfiltered:
            estimate = _planner_estimate(connection, queryset.model._meta.db_table)
            if estimate > COUNT_LIMIT:
                return estimate
        return queryset.order_by()[: COUNT_LIMIT + 1].count()


def _planner_estimate(connection, table: str) -> int:
    """PostgreSQL's row estimate (kept by ANALYZE and autovacuum); -1 if never analyzed."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", [table])
        row = cursor.fetchone()
    return int(row[0]) if row else -1


class ScaledAdmin(admin.ModelAdmin):
    """Defaults for every model admin of the index."""

    paginator = EstimatedCountPaginator
    show_full_result_count = False
    list_per_page = 50
    ordering = ("-pk",)

    def get_actions(self, request: HttpRequest) -> dict:
        # Bulk delete would skip the domain functions (journal, storage); removal is an action
        # of its own where it makes sense.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions


class ReadOnlyAdmin(ScaledAdmin):
    """Records nobody edits by hand: the journal, events, the filename registry."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReasonForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
        help_text="Recorded with your name in the history.",
    )


def confirm_action(
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    queryset: QuerySet,
    *,
    title: str,
    apply: Callable[[Model, dict], Any],
    form_class: type[forms.Form] = ReasonForm,
    form_kwargs: dict | None = None,
    warning: str = "",
) -> HttpResponse | None:
    """Run an admin action only after its form (at least a reason) is filled in.

    1. The changelist posts the selection here: show the form with the selected objects.
    2. The form posts back with `apply`: validate, call `apply(obj, cleaned_data)` for each
       object, report, and return to the changelist.
    `apply` raises ValueError (ModerationError) to refuse one object with a message.
    """
    form_kwargs = {"objects": queryset, **(form_kwargs or {})}
    if not _accepts_objects(form_class):
        form_kwargs.pop("objects")
    if "apply" in request.POST:
        form = form_class(request.POST, **form_kwargs)
        if form.is_valid():
            done = 0
            for obj in queryset:
                try:
                    apply(obj, form.cleaned_data)
                except ValueError as exc:
                    modeladmin.message_user(request, f"{obj}: {exc}", messages.ERROR)
                else:
                    done += 1
            modeladmin.message_user(request, f"{title}: done for {done}.", messages.SUCCESS)
            return None
    else:
        form = form_class(**form_kwargs)
    opts = modeladmin.model._meta
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "warning": warning,
        "form": form,
        "objects": list(queryset[:SHOWN_OBJECTS]),
        "count": queryset.count(),
        "action": request.POST.get("action", ""),
        "selected": request.POST.getlist(ACTION_CHECKBOX_NAME),
        "select_across": request.POST.get("select_across", "0"),
        "opts": opts,
        "app_label": opts.app_label,
        "media": modeladmin.media + form.media,
    }
    return TemplateResponse(request, "admin/confirm_action.html", context)


def _accepts_objects(form_class: type[forms.Form]) -> bool:
    return getattr(form_class, "takes_objects", False)
