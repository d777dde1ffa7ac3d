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
from organizations import permissions as organization_permissions
from organizations.models import Organization, OrganizationRoleName
from organizations.registration import find_organization
from organizations.views.manage import (
    organization_context,
    organization_for,
    owned_organization_for,
)
from packages import lifecycle, ownership, permissions, releases, visibility
from packages.forms import (
    ArchiveForm,
    ConfirmForm,
    RemoveFromOrganizationForm,
    TransferForm,
    VisibilityForm,
    YankForm,
)
from packages.models import File, Project, ProjectEvent, Release
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
    roles = permissions.projects_with_roles(user)
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
    status = 400 if request.method == "POST" else 200
    return _settings_page(request, project, form=form, status=status)


def _settings_page(
    request: HttpRequest,
    project: Project,
    *,
    form: ConfirmForm | None = None,
    archive_form: ArchiveForm | None = None,
    transfer_form: TransferForm | None = None,
    status: int = 200,
) -> HttpResponse:
    choices = _transfer_choices(request.user, project)
    context = {
        "project": project,
        "form": form or ConfirmForm(expected=project.name),
        "archive_form": archive_form or ArchiveForm(),
        "transfer_form": transfer_form or TransferForm(choices=choices),
        "can_transfer": bool(choices),
        "tab": "settings",
    }
    return render(request, "manage/settings.html", context, status=status)


def _archivable_project(request: HttpRequest, name: str) -> Project:
    project = releases.find_project(name)
    if project is None or permissions.see_project_denial(user=request.user, project=project):
        raise Http404(f"No project named {name!r}")
    if (denial := permissions.archive_denial(user=request.user, project=project)) is not None:
        raise PermissionDenied(denial.message)
    return project


def _transfer_choices(user: AbstractBaseUser, project: Project) -> list[str]:
    """Organizations the user owns (approved, not frozen) that do not own the project yet."""
    return list(
        Organization.objects.in_good_standing()
        .filter(roles__user=user, roles__role_name=OrganizationRoleName.OWNER)
        .exclude(pk=project.organization_id or 0)
        .order_by("normalized_name")
        .values_list("name", flat=True)
    )


@manage_required
@require_POST
def archive(request: HttpRequest, name: str) -> HttpResponse:
    """PEP 792 `archived`: no more uploads; reversible (Warehouse `archive_project_view`)."""
    project = _archivable_project(request, name)
    then = reverse("manage-project-settings", args=[project.name])
    if response := reauth_redirect(request, next_path=then):
        return response
    form = ArchiveForm(request.POST)
    if not form.is_valid():
        return _settings_page(request, project, archive_form=form, status=400)
    try:
        lifecycle.archive_project(
            project=project,
            by=request.user,
            note=form.cleaned_data["note"],
            ip_address=client_ip(request),
        )
    except lifecycle.LifecycleError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Archived project {project.name}.")
    return redirect(then)


@manage_required
@require_POST
def transfer_project(request: HttpRequest, name: str) -> HttpResponse:
    """Move the project into an organization; an Owner of both does it."""
    project = managed_project(request, name)
    then = reverse("manage-project-settings", args=[project.name])
    if response := reauth_redirect(request, next_path=then):
        return response
    form = TransferForm(request.POST, choices=_transfer_choices(request.user, project))
    if not form.is_valid():
        return _settings_page(request, project, transfer_form=form, status=400)
    organization = find_organization(form.cleaned_data["organization"])
    denial = permissions.transfer_project_denial(
        user=request.user, project=project, organization=organization
    )
    if denial is not None:
        raise PermissionDenied(denial.message)
    try:
        ownership.transfer_project(
            project=project,
            organization=organization,
            by=request.user,
            ip_address=client_ip(request),
        )
    except ownership.OwnershipError as exc:
        messages.error(request, str(exc))
        return redirect(then)
    messages.success(request, f"Moved {project.name} into the organization {organization.name}.")
    return redirect(then)


@manage_required
@require_POST
def unarchive(request: HttpRequest, name: str) -> HttpResponse:
    project = _archivable_project(request, name)
    then = reverse("manage-project-settings", args=[project.name])
    if response := reauth_redirect(request, next_path=then):
        return response
    try:
        lifecycle.unarchive_project(project=project, by=request.user, ip_address=client_ip(request))
    except lifecycle.LifecycleError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Unarchived project {project.name}.")
    return redirect(then)


@manage_required
@require_safe
def organization_projects(request: HttpRequest, name: str) -> HttpResponse:
    """An organization's projects, for its members (organization management's Projects tab)."""
    organization = organization_for(request, name, organization_permissions.see_organization_denial)
    return _organization_projects_page(request, organization)


def _organization_projects_page(
    request: HttpRequest,
    organization: Organization,
    remove_form: RemoveFromOrganizationForm | None = None,
    status: int = 200,
) -> HttpResponse:
    roles = permissions.projects_with_roles(request.user)
    projects = with_latest_release(
        Project.objects.filter(organization=organization).order_by("normalized_name")
    )
    rows = [(project, roles.get(project.pk)) for project in projects]
    can_remove = (
        organization_permissions.remove_project_denial(user=request.user, organization=organization)
        is None
    )
    if can_remove and remove_form is None:
        remove_form = _remove_form(organization)
    context = organization_context(
        request,
        organization,
        "projects",
        rows=rows,
        remove_form=remove_form if can_remove and rows else None,
    )
    return render(request, "manage/organization_projects.html", context, status=status)


def _remove_form(organization: Organization, data: object = None) -> RemoveFromOrganizationForm:
    projects = Project.objects.filter(organization=organization).order_by("normalized_name")
    owners = ownership.owner_choices(organization).order_by("user__username")
    return RemoveFromOrganizationForm(
        data,
        projects=list(projects.values_list("name", flat=True)),
        owners=[role.user.get_username() for role in owners],
    )


@manage_required
@require_POST
def remove_organization_project(request: HttpRequest, name: str) -> HttpResponse:
    """An Owner of the organization makes one of its projects personal again, with a member
    of the organization as its Owner."""
    organization = owned_organization_for(
        request, name, organization_permissions.remove_project_denial
    )
    then = reverse("manage-org-projects", args=[organization.name])
    if response := reauth_redirect(request, next_path=then):
        return response
    form = _remove_form(organization, request.POST)
    if not form.is_valid():
        return _organization_projects_page(request, organization, form, status=400)
    project = get_object_or_404(
        Project, organization=organization, name=form.cleaned_data["project"]
    )
    owner = get_object_or_404(
        ownership.owner_choices(organization), user__username=form.cleaned_data["owner"]
    ).user
    try:
        ownership.remove_project_from_organization(
            project=project,
            organization=organization,
            owner=owner,
            by=request.user,
            ip_address=client_ip(request),
        )
    except ownership.OwnershipError as exc:
        form.add_error(None, str(exc))
        return _organization_projects_page(request, organization, form, status=400)
    messages.success(
        request,
        f"Removed {project.name} from the organization {organization.name}; "
        f"{owner.get_username()} owns it.",
    )
    return redirect(then)


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
