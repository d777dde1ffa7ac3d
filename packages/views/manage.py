"""Owners' pages under /manage/: their projects, releases, yanking, deletion and history.

Every page asks packages.permissions; every change goes through packages.releases (which
journals it and removes stored files on commit) and is recorded as a ProjectEvent.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from accounts.access import manage_required, reauth_redirect
from accounts.events import client_ip
from packages import permissions, releases, visibility
from packages.forms import ConfirmForm, VisibilityForm, YankForm
from packages.models import File, Project, ProjectEvent, Release, Role
from packages.search import with_latest_release

HISTORY_PAGE_SIZE = 50


def managed_project(request: HttpRequest, name: str) -> Project:
    """The project, if this user may manage it: 404 for no such project (or one this user
    may not see), 403 otherwise."""
    project = releases.find_project(name)
    if project is None or permissions.see_project_denial(user=request.user, project=project):
        raise Http404(f"No project named {name!r}")
    denial = permissions.manage_denial(user=request.user, project=project)
    if denial is not None:
        raise PermissionDenied(denial.message)
    return project


def _release(project: Project, version: str) -> Release:
    release = releases.find_release(project=project, version=version)
    if release is None:
        raise Http404(f"No release {version} of project {project.name!r}")
    release.project = project
    return release


def _release_url(release: Release) -> str:
    return reverse("manage-release", args=[release.project.name, release.version])


@manage_required
@require_safe
def projects(request: HttpRequest) -> HttpResponse:
    user: AbstractBaseUser = request.user
    roles = dict(Role.objects.filter(user=user).values_list("project_id", "role_name"))
    owned = with_latest_release(Project.objects.filter(pk__in=roles)).order_by("normalized_name")
    rows = [(project, roles[project.pk]) for project in owned]
    return render(request, "manage/projects.html", {"rows": rows})


@manage_required
@require_safe
def project_releases(request: HttpRequest, name: str) -> HttpResponse:
    project = managed_project(request, name)
    rows = project.releases.order_by("-sort_order").only(
        "version", "created", "yanked", "yanked_reason", "is_prerelease", "project_id"
    )
    context = {"project": project, "releases": rows, "tab": "releases"}
    return render(request, "manage/releases.html", context)


@manage_required
@require_safe
def release_detail(request: HttpRequest, name: str, version: str) -> HttpResponse:
    project = managed_project(request, name)
    release = _release(project, version)
    if response := reauth_redirect(request, next_path=_release_url(release)):
        return response
    return render(request, "manage/release.html", _release_context(project, release))


def _release_context(
    project: Project, release: Release, *, file_errors: dict[int, list[str]] | None = None, **forms
) -> dict:
    files = list(release.files.order_by("packagetype", "filename"))
    for file in files:
        file.confirm_errors = (file_errors or {}).get(file.pk, [])
    return {
        "project": project,
        "release": release,
        "files": files,
        "tab": "releases",
        "yank_form": forms.get("yank_form") or YankForm(version=release.version),
        "delete_form": forms.get("delete_form") or ConfirmForm(expected=release.version),
    }


@manage_required
@require_POST
def yank(request: HttpRequest, name: str, version: str) -> HttpResponse:
    project = managed_project(request, name)
    release = _release(project, version)
    if response := reauth_redirect(request, next_path=_release_url(release)):
        return response
    form = YankForm(request.POST, version=release.version)
    if not form.is_valid():
        context = _release_context(project, release, yank_form=form)
        return render(request, "manage/release.html", context, status=400)
    reason = form.cleaned_data["reason"]
    releases.yank_release(
        release=release, reason=reason, user=request.user, ip_address=client_ip(request)
    )
    messages.success(request, f"Yanked release {release.version}.")
    return redirect(_release_url(release))


@manage_required
@require_POST
def unyank(request: HttpRequest, name: str, version: str) -> HttpResponse:
    project = managed_project(request, name)
    release = _release(project, version)
    if response := reauth_redirect(request, next_path=_release_url(release)):
        return response
    releases.unyank_release(release=release, user=request.user, ip_address=client_ip(request))
    messages.success(request, f"Un-yanked release {release.version}.")
    return redirect(_release_url(release))


@manage_required
@require_POST
def delete_release(request: HttpRequest, name: str, version: str) -> HttpResponse:
    project = managed_project(request, name)
    release = _release(project, version)
    if response := reauth_redirect(request, next_path=_release_url(release)):
        return response
    form = ConfirmForm(request.POST, expected=release.version)
    if not form.is_valid():
        context = _release_context(project, release, delete_form=form)
        return render(request, "manage/release.html", context, status=400)
    releases.delete_release(release=release, user=request.user, ip_address=client_ip(request))
    messages.success(request, f"Deleted release {release.version}.")
    return redirect("manage-project-releases", project.name)


@manage_required
@require_POST
def delete_file(request: HttpRequest, name: str, version: str, file_id: int) -> HttpResponse:
    project = managed_project(request, name)
    release = _release(project, version)
    if response := reauth_redirect(request, next_path=_release_url(release)):
        return response
    file = get_object_or_404(File, pk=file_id, release=release)
    form = ConfirmForm(request.POST, expected=file.filename)
    if not form.is_valid():
        context = _release_context(
            project, release, file_errors={file.pk: form.errors.get("confirm", [])}
        )
        return render(request, "manage/release.html", context, status=400)
    file.release = release
    releases.delete_file(file=file, user=request.user, ip_address=client_ip(request))
    messages.success(request, f"Deleted file {file.filename}.")
    return redirect(_release_url(release))


@manage_required
@require_http_methods(["GET", "HEAD", "POST"])
def project_settings(request: HttpRequest, name: str) -> HttpResponse:
    """Project settings; for now the one setting is deleting the project."""
    project = managed_project(request, name)
    then = reverse("manage-project-settings", args=[project.name])
    if response := reauth_redirect(request, next_path=then):
        return response
    form = ConfirmForm(request.POST or None, expected=project.name)
    if request.method == "POST" and form.is_valid():
        releases.delete_project(project=project, user=request.user, ip_address=client_ip(request))
        messages.success(request, f"Deleted project {project.name}.")
        return redirect("manage-projects")
    context = {"project": project, "form": form, "tab": "settings"}
    status = 400 if request.method == "POST" else 200
    return render(request, "manage/settings.html", context, status=status)


@manage_required
@require_POST
def project_visibility(request: HttpRequest, name: str) -> HttpResponse:
    """Private (collaborators and staff only) or public, from the settings page."""
    project = managed_project(request, name)
    then = reverse("manage-project-settings", args=[project.name])
    if response := reauth_redirect(request, next_path=then):
        return response
    form = VisibilityForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose private or public.")
        return redirect(then)
    private = form.cleaned_data["visibility"] == "private"
    visibility.set_project_visibility(
        project=project, private=private, user=request.user, ip_address=client_ip(request)
    )
    messages.success(request, f"{project.name} is {form.cleaned_data['visibility']}.")
    return redirect(then)


@manage_required
@require_safe
def history(request: HttpRequest, name: str) -> HttpResponse:
    project = managed_project(request, name)
    events = ProjectEvent.objects.filter(project=project).select_related("user").order_by("-time")
    page = Paginator(events, HISTORY_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"project": project, "page": page, "tab": "history"}
    return render(request, "manage/history.html", context)
