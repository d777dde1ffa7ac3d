"""Collaborators: /manage/project/<name>/collaboration/ for Owners (and members, read-only),
and /account/verify-project-role/ where an invitee accepts or declines."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts.access import account_required, manage_required, reauth_redirect
from accounts.events import client_ip
from packages import collaboration, ownership, permissions
from packages.models import Project, Role, RoleInvitation, RoleName, TeamProjectRole
from packages.releases import find_project


class InviteForm(forms.Form):
    username = forms.CharField(max_length=150)
    role_name = forms.ChoiceField(choices=RoleName.choices)


class ChangeRoleForm(forms.Form):
    role_id = forms.IntegerField()
    role_name = forms.ChoiceField(choices=RoleName.choices)


class RoleForm(forms.Form):
    role_id = forms.IntegerField()


class InvitationForm(forms.Form):
    invitation_id = forms.IntegerField()


class TeamRoleForm(forms.Form):
    team = forms.ModelChoiceField(queryset=None, to_field_name="name", label="Team")
    role_name = forms.ChoiceField(choices=RoleName.choices, label="Role")

    def __init__(self, *args: object, project: Project, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = ownership.teams_for(project)


class TeamRoleIdForm(forms.Form):
    team_role_id = forms.IntegerField()


def _project(request: HttpRequest, name: str) -> Project:
    project = find_project(name)
    if project is None or permissions.see_project_denial(user=request.user, project=project):
        raise Http404(f"No project named {name!r}")
    return project


def _deny_unless(denial: permissions.Denial | None) -> None:
    if denial is not None:
        raise PermissionDenied(denial.message)


def _page(
    request: HttpRequest,
    project: Project,
    form: InviteForm | None = None,
    team_form: TeamRoleForm | None = None,
) -> HttpResponse:
    context = {
        "project": project,
        "roles": project.roles.select_related("user").order_by("role_name", "user__username"),
        "invitations": collaboration.pending_invitations(project=project),
        "can_manage": permissions.change_roles_denial(user=request.user, project=project) is None,
        "form": form or InviteForm(),
        "role_names": RoleName.choices,
        "team_roles": project.team_roles.select_related("team").order_by("team__normalized_name"),
        "team_form": team_form or TeamRoleForm(project=project),
    }
    status = 400 if request.method == "POST" else 200
    return render(request, "packages/collaboration.html", context, status=status)


@require_http_methods(["GET", "POST"])
@manage_required
def collaboration_page(request: HttpRequest, name: str) -> HttpResponse:
    """GET: who has which role; POST: invite someone (Owners only)."""
    project = _project(request, name)
    if request.method == "GET":
        _deny_unless(permissions.see_collaborators_denial(user=request.user, project=project))
        return _page(request, project)
    _deny_unless(permissions.change_roles_denial(user=request.user, project=project))
    if response := reauth_redirect(request):
        return response
    form = InviteForm(request.POST)
    if form.is_valid():
        try:
            invitation = collaboration.invite_collaborator(
                project=project,
                username=form.cleaned_data["username"],
                role_name=form.cleaned_data["role_name"],
                invited_by=request.user,
                ip_address=client_ip(request),
            )
        except collaboration.CollaborationError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"Invitation sent to '{invitation.user.get_username()}'")
            return redirect(request.path)
    return _page(request, project, form)


def _role(project: Project, form: forms.Form) -> Role:
    if not form.is_valid():
        raise Http404("No such role")
    role = Role.objects.filter(pk=form.cleaned_data["role_id"], project=project).first()
    if role is None:
        raise Http404("No such role")
    return role


@require_POST
@manage_required
def change_role(request: HttpRequest, name: str) -> HttpResponse:
    project = _project(request, name)
    _deny_unless(permissions.change_roles_denial(user=request.user, project=project))
    if response := reauth_redirect(request):
        return response
    form = ChangeRoleForm(request.POST)
    role = _role(project, form)
    try:
        collaboration.change_role(
            role=role,
            role_name=form.cleaned_data["role_name"],
            by=request.user,
            ip_address=client_ip(request),
        )
    except collaboration.CollaborationError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Role changed.")
    return redirect(f"/manage/project/{project.normalized_name}/collaboration/")


@require_POST
@manage_required
def delete_role(request: HttpRequest, name: str) -> HttpResponse:
    """An Owner removes a collaborator, or anyone removes (leaves) their own role."""
    project = _project(request, name)
    role = _role(project, RoleForm(request.POST))
    _deny_unless(permissions.remove_role_denial(user=request.user, role=role))
    if response := reauth_redirect(request):
        return response
    try:
        collaboration.remove_role(role=role, by=request.user, ip_address=client_ip(request))
    except collaboration.CollaborationError as exc:
        messages.error(request, str(exc))
        return redirect(f"/manage/project/{project.normalized_name}/collaboration/")
    messages.success(request, f"Removed '{role.user.get_username()}' from '{project.name}'.")
    if role.user_id == request.user.pk:
        return redirect("/manage/account/")
    return redirect(f"/manage/project/{project.normalized_name}/collaboration/")


@require_POST
@manage_required
def set_team_role(request: HttpRequest, name: str) -> HttpResponse:
    """Give a team of the project's organization a role on it, or change the one it has."""
    project = _project(request, name)
    _deny_unless(permissions.change_team_roles_denial(user=request.user, project=project))
    if response := reauth_redirect(request):
        return response
    form = TeamRoleForm(request.POST, project=project)
    if not form.is_valid():
        return _page(request, project, team_form=form)
    team = form.cleaned_data["team"]
    try:
        ownership.set_team_role(
            project=project,
            team=team,
            role_name=form.cleaned_data["role_name"],
            by=request.user,
            ip_address=client_ip(request),
        )
    except ownership.OwnershipError as exc:
        form.add_error(None, str(exc))
        return _page(request, project, team_form=form)
    messages.success(request, f"Team '{team.name}' is now {form.cleaned_data['role_name']}.")
    return redirect(f"/manage/project/{project.normalized_name}/collaboration/")


@require_POST
@manage_required
def remove_team_role(request: HttpRequest, name: str) -> HttpResponse:
    project = _project(request, name)
    _deny_unless(permissions.change_team_roles_denial(user=request.user, project=project))
    if response := reauth_redirect(request):
        return response
    form = TeamRoleIdForm(request.POST)
    role = (
        TeamProjectRole.objects.filter(pk=form.cleaned_data["team_role_id"], project=project)
        .select_related("team")
        .first()
        if form.is_valid()
        else None
    )
    if role is None:
        raise Http404("No such team role")
    ownership.remove_team_role(role=role, by=request.user, ip_address=client_ip(request))
    messages.success(request, f"Team '{role.team.name}' no longer has a role.")
    return redirect(f"/manage/project/{project.normalized_name}/collaboration/")


@require_POST
@manage_required
def revoke_invitation(request: HttpRequest, name: str) -> HttpResponse:
    project = _project(request, name)
    _deny_unless(permissions.change_roles_denial(user=request.user, project=project))
    form = InvitationForm(request.POST)
    invitation = (
        RoleInvitation.objects.filter(pk=form.cleaned_data["invitation_id"], project=project)
        .select_related("user", "project")
        .first()
        if form.is_valid()
        else None
    )
    if invitation is None:
        raise Http404("No such invitation")
    try:
        collaboration.revoke_invitation(
            invitation=invitation, by=request.user, ip_address=client_ip(request)
        )
    except collaboration.CollaborationError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Invitation revoked.")
    return redirect(f"/manage/project/{project.normalized_name}/collaboration/")


@require_http_methods(["GET", "POST"])
@account_required
def verify_project_role(request: HttpRequest) -> HttpResponse:
    """GET ?token=: the invitation from the mail; POST `accept` or `decline` it. Without a
    token, the user's pending invitations."""
    token = request.POST.get("token") or request.GET.get("token", "")
    if not token:
        invitations = [
            (invitation, collaboration.invitation_token(invitation))
            for invitation in collaboration.pending_invitations(user=request.user)
        ]
        return render(request, "packages/invitations.html", {"invitations": invitations})
    try:
        invitation = collaboration.find_invitation(token=token, user=request.user)
        if request.method == "GET":
            context = {"invitation": invitation, "token": token}
            return render(request, "packages/invitation.html", context)
        if "accept" in request.POST:
            collaboration.accept_invitation(
                invitation=invitation, user=request.user, ip_address=client_ip(request)
            )
            messages.success(
                request,
                f"You are now {invitation.role_name} of the '{invitation.project.name}' project.",
            )
        else:
            collaboration.decline_invitation(
                invitation=invitation, user=request.user, ip_address=client_ip(request)
            )
            messages.success(request, f"Invitation for '{invitation.project.name}' is declined.")
    except collaboration.CollaborationError as exc:
        messages.error(request, str(exc))
    return redirect("/account/verify-project-role/")
