"""Members' pages under /manage/organization(s)/: create an organization, its people and
invitations, its teams, its details and history, deleting it; and
/account/verify-organization-role/, where an invitee accepts or declines. The organization's
projects are packages' pages.

Every page asks organizations.permissions; every change goes through the domain modules."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from accounts.access import account_required, manage_required, reauth_redirect
from accounts.events import client_ip
from organizations import forms, membership, permissions, registration, teams
from organizations.models import (
    Organization,
    OrganizationEvent,
    OrganizationInvitation,
    OrganizationRole,
    OrganizationRoleName,
    Team,
    TeamMember,
)

HISTORY_PAGE_SIZE = 50
Denial = Callable[..., str | None]


def organization_for(request: HttpRequest, name: str, denial: Denial) -> Organization:
    """The organization, if `denial` lets this user in: 404 for no such one, 403 otherwise."""
    organization = registration.find_organization(name)
    if organization is None:
        raise Http404(f"No organization named {name!r}")
    if message := denial(user=request.user, organization=organization):
        raise PermissionDenied(message)
    return organization


def owned_organization_for(request: HttpRequest, name: str, denial: Denial) -> Organization:
    """`organization_for` for a change only its Owners make: someone who is not a member is
    told there is no such organization (404); a member without the power gets 403."""
    organization = registration.find_organization(name)
    if organization is None or permissions.see_organization_denial(
        user=request.user, organization=organization
    ):
        raise Http404(f"No organization named {name!r}")
    if message := denial(user=request.user, organization=organization):
        raise PermissionDenied(message)
    return organization


def _url(organization: Organization, page: str = "") -> str:
    return f"/manage/organization/{organization.name}/{page}"


def _team_url(team: Team) -> str:
    # A team's name may hold any printable character but "/", so it is quoted.
    return reverse("manage-org-team", args=[team.organization.name, team.name])


def organization_context(
    request: HttpRequest, organization: Organization, tab: str, **extra
) -> dict:
    return {
        "organization": organization,
        "tab": tab,
        "role": permissions.role_of(user=request.user, organization=organization),
        "can_manage_members": permissions.manage_members_denial(
            user=request.user, organization=organization
        )
        is None,
        "can_manage_teams": permissions.manage_teams_denial(
            user=request.user, organization=organization
        )
        is None,
        "can_delete": permissions.delete_organization_denial(
            user=request.user, organization=organization
        )
        is None,
        **extra,
    }


@require_http_methods(["GET", "HEAD", "POST"])
@manage_required
def organizations(request: HttpRequest) -> HttpResponse:
    """GET: the user's organizations and invitations; POST: create one."""
    form = forms.CreateOrganizationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            organization = registration.create_organization(
                **form.cleaned_data, by=request.user, ip_address=client_ip(request)
            )
        except membership.MembershipError as exc:
            form.add_error("name", str(exc))
        else:
            if organization.status == Organization.Status.PENDING:
                messages.success(
                    request, f"Organization '{organization.name}' awaits approval by the staff."
                )
            else:
                messages.success(request, f"Created organization '{organization.name}'.")
            return redirect(_url(organization))
    roles = (
        OrganizationRole.objects.filter(user=request.user)
        .exclude(organization__status=Organization.Status.DECLINED)
        .select_related("organization")
        .order_by("organization__normalized_name")
    )
    invitations = [
        (invitation, membership.invitation_token(invitation))
        for invitation in membership.pending_invitations(user=request.user)
    ]
    context = {"roles": roles, "invitations": invitations, "form": form}
    status = 400 if request.method == "POST" else 200
    return render(request, "organizations/list.html", context, status=status)


@require_http_methods(["GET", "HEAD", "POST"])
@manage_required
def settings_page(request: HttpRequest, name: str) -> HttpResponse:
    """The organization's status and public details; Owners edit them."""
    organization = organization_for(request, name, permissions.see_organization_denial)
    form = _details_form(organization, request.POST or None)
    if request.method == "POST":
        if message := permissions.owner_denial(user=request.user, organization=organization):
            raise PermissionDenied(message)
        if form.is_valid():
            registration.update_organization(
                organization=organization,
                **form.cleaned_data,
                by=request.user,
                ip_address=client_ip(request),
            )
            messages.success(request, "Saved.")
            return redirect(_url(organization))
    delete_form = forms.DeleteOrganizationForm(organization_name=organization.name)
    status = 400 if request.method == "POST" else 200
    return _settings(request, organization, form, delete_form, status)


def _details_form(organization: Organization, data: object = None) -> forms.OrganizationDetailsForm:
    initial = {
        "display_name": organization.display_name,
        "link_url": organization.link_url,
        "description": organization.description,
    }
    return forms.OrganizationDetailsForm(data, initial=initial)


def _settings(
    request: HttpRequest,
    organization: Organization,
    form: forms.OrganizationDetailsForm,
    delete_form: forms.DeleteOrganizationForm,
    status: int,
) -> HttpResponse:
    context = organization_context(
        request,
        organization,
        "settings",
        form=form,
        delete_form=delete_form,
        project_count=organization.projects.count(),
    )
    return render(request, "organizations/settings.html", context, status=status)


@require_POST
@manage_required
def delete_organization(request: HttpRequest, name: str) -> HttpResponse:
    """An Owner deletes the organization once it owns no projects, typing its name again."""
    organization = owned_organization_for(request, name, permissions.delete_organization_denial)
    if response := reauth_redirect(request, next_path=_url(organization)):
        return response
    delete_form = forms.DeleteOrganizationForm(request.POST, organization_name=organization.name)
    if delete_form.is_valid():
        try:
            registration.delete_organization(
                organization=organization, by=request.user, ip_address=client_ip(request)
            )
        except membership.MembershipError as exc:
            delete_form.add_error(None, str(exc))
        else:
            messages.success(request, f"Deleted organization '{organization.name}'.")
            return redirect("manage-organizations")
    return _settings(request, organization, _details_form(organization), delete_form, 400)


@require_http_methods(["GET", "HEAD", "POST"])
@manage_required
def people(request: HttpRequest, name: str) -> HttpResponse:
    """GET: members and pending invitations; POST: invite someone (Owners only)."""
    organization = organization_for(request, name, permissions.see_organization_denial)
    form = forms.InviteForm(request.POST or None)
    if request.method == "POST":
        if message := permissions.manage_members_denial(
            user=request.user, organization=organization
        ):
            raise PermissionDenied(message)
        if response := reauth_redirect(request):
            return response
        if form.is_valid():
            try:
                invitation = membership.invite_member(
                    organization=organization,
                    **form.cleaned_data,
                    invited_by=request.user,
                    ip_address=client_ip(request),
                )
            except membership.MembershipError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, f"Invitation sent to '{invitation.user.get_username()}'")
                return redirect(_url(organization, "people/"))
    context = organization_context(
        request,
        organization,
        "people",
        form=form,
        roles=organization.roles.select_related("user").order_by("role_name", "user__username"),
        invitations=membership.pending_invitations(organization=organization),
        role_names=OrganizationRoleName.choices,
    )
    status = 400 if request.method == "POST" else 200
    return render(request, "organizations/people.html", context, status=status)


def _role(organization: Organization, form) -> OrganizationRole:
    role = (
        OrganizationRole.objects.filter(pk=form.cleaned_data["role_id"], organization=organization)
        .select_related("user", "organization")
        .first()
        if form.is_valid()
        else None
    )
    if role is None:
        raise Http404("No such member")
    return role


@require_POST
@manage_required
def change_role(request: HttpRequest, name: str) -> HttpResponse:
    organization = organization_for(request, name, permissions.manage_members_denial)
    if response := reauth_redirect(request):
        return response
    form = forms.ChangeRoleForm(request.POST)
    role = _role(organization, form)
    try:
        membership.change_role(
            role=role,
            role_name=form.cleaned_data["role_name"],
            by=request.user,
            ip_address=client_ip(request),
        )
    except membership.MembershipError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Role changed.")
    return redirect(_url(organization, "people/"))


@require_POST
@manage_required
def remove_role(request: HttpRequest, name: str) -> HttpResponse:
    """An Owner removes a member, or anyone leaves."""
    organization = organization_for(request, name, permissions.see_organization_denial)
    role = _role(organization, forms.RoleForm(request.POST))
    if role.user_id != request.user.pk and (
        message := permissions.manage_members_denial(user=request.user, organization=organization)
    ):
        raise PermissionDenied(message)
    if response := reauth_redirect(request):
        return response
    try:
        membership.remove_role(role=role, by=request.user, ip_address=client_ip(request))
    except membership.MembershipError as exc:
        messages.error(request, str(exc))
        return redirect(_url(organization, "people/"))
    messages.success(request, f"Removed '{role.user.get_username()}' from '{organization.name}'.")
    if role.user_id == request.user.pk:
        return redirect("/manage/organizations/")
    return redirect(_url(organization, "people/"))


@require_POST
@manage_required
def revoke_invitation(request: HttpRequest, name: str) -> HttpResponse:
    organization = organization_for(request, name, permissions.manage_members_denial)
    form = forms.InvitationForm(request.POST)
    invitation = (
        OrganizationInvitation.objects.filter(
            pk=form.cleaned_data["invitation_id"], organization=organization
        )
        .select_related("user", "organization")
        .first()
        if form.is_valid()
        else None
    )
    if invitation is None:
        raise Http404("No such invitation")
    try:
        membership.revoke_invitation(
            invitation=invitation, by=request.user, ip_address=client_ip(request)
        )
    except membership.MembershipError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Invitation revoked.")
    return redirect(_url(organization, "people/"))


@require_http_methods(["GET", "HEAD", "POST"])
@manage_required
def teams_page(request: HttpRequest, name: str) -> HttpResponse:
    """GET: the teams; POST: create one (Owners and Managers)."""
    organization = organization_for(request, name, permissions.see_organization_denial)
    form = forms.TeamForm(request.POST or None)
    if request.method == "POST":
        if message := permissions.manage_teams_denial(user=request.user, organization=organization):
            raise PermissionDenied(message)
        if form.is_valid():
            try:
                team = teams.create_team(
                    organization=organization,
                    name=form.cleaned_data["name"],
                    by=request.user,
                    ip_address=client_ip(request),
                )
            except membership.MembershipError as exc:
                form.add_error("name", str(exc))
            else:
                messages.success(request, f"Created team '{team.name}'.")
                return redirect(_team_url(team))
    team_list = organization.teams.order_by("normalized_name").prefetch_related("members__user")
    context = organization_context(request, organization, "teams", form=form, teams=team_list)
    status = 400 if request.method == "POST" else 200
    return render(request, "organizations/teams.html", context, status=status)


def _team(organization: Organization, team_name: str) -> Team:
    team = teams.find_team(organization=organization, name=team_name)
    if team is None:
        raise Http404(f"No team named {team_name!r}")
    team.organization = organization
    return team


@require_http_methods(["GET", "HEAD", "POST"])
@manage_required
def team_page(request: HttpRequest, name: str, team_name: str) -> HttpResponse:
    """GET: a team's members and projects; POST: add a member (Owners and Managers)."""
    organization = organization_for(request, name, permissions.see_organization_denial)
    team = _team(organization, team_name)
    form = forms.TeamMemberForm(request.POST or None)
    if request.method == "POST":
        if message := permissions.manage_teams_denial(user=request.user, organization=organization):
            raise PermissionDenied(message)
        if form.is_valid():
            try:
                teams.add_team_member(
                    team=team,
                    username=form.cleaned_data["username"],
                    by=request.user,
                    ip_address=client_ip(request),
                )
            except membership.MembershipError as exc:
                form.add_error("username", str(exc))
            else:
                messages.success(request, f"Added '{form.cleaned_data['username']}'.")
                return redirect(_team_url(team))
    context = organization_context(
        request,
        organization,
        "teams",
        team=team,
        form=form,
        members=team.members.select_related("user").order_by("user__username"),
        project_roles=team.project_roles.select_related("project").order_by(
            "project__normalized_name"
        ),
    )
    status = 400 if request.method == "POST" else 200
    return render(request, "organizations/team.html", context, status=status)


@require_POST
@manage_required
def remove_team_member(request: HttpRequest, name: str, team_name: str) -> HttpResponse:
    organization = organization_for(request, name, permissions.manage_teams_denial)
    team = _team(organization, team_name)
    form = forms.MemberForm(request.POST)
    member = (
        TeamMember.objects.filter(pk=form.cleaned_data["member_id"], team=team)
        .select_related("user")
        .first()
        if form.is_valid()
        else None
    )
    if member is None:
        raise Http404("No such team member")
    member.team = team
    teams.remove_team_member(member=member, by=request.user, ip_address=client_ip(request))
    messages.success(request, f"Removed '{member.user.get_username()}' from '{team.name}'.")
    return redirect(_team_url(team))


@require_POST
@manage_required
def delete_team(request: HttpRequest, name: str, team_name: str) -> HttpResponse:
    organization = organization_for(request, name, permissions.manage_teams_denial)
    team = _team(organization, team_name)
    if response := reauth_redirect(request):
        return response
    teams.delete_team(team=team, by=request.user, ip_address=client_ip(request))
    messages.success(request, f"Deleted team '{team.name}'.")
    return redirect(_url(organization, "teams/"))


@require_safe
@manage_required
def history(request: HttpRequest, name: str) -> HttpResponse:
    organization = organization_for(request, name, permissions.see_organization_denial)
    events = (
        OrganizationEvent.objects.filter(organization=organization)
        .select_related("user")
        .order_by("-time", "-pk")
    )
    page = Paginator(events, HISTORY_PAGE_SIZE).get_page(request.GET.get("page"))
    context = organization_context(request, organization, "history", page=page)
    return render(request, "organizations/history.html", context)


@require_http_methods(["GET", "HEAD", "POST"])
@account_required
def verify_organization_role(request: HttpRequest) -> HttpResponse:
    """GET ?token=: the invitation from the mail; POST `accept` or `decline` it."""
    token = request.POST.get("token") or request.GET.get("token", "")
    if not token:
        return redirect("/manage/organizations/")
    try:
        invitation = membership.find_invitation(token=token, user=request.user)
        if request.method != "POST":
            context = {"invitation": invitation, "token": token}
            return render(request, "organizations/invitation.html", context)
        organization = invitation.organization
        if "accept" in request.POST:
            membership.accept_invitation(
                invitation=invitation, user=request.user, ip_address=client_ip(request)
            )
            messages.success(
                request,
                f"You are now {invitation.role_name} of the '{organization.name}' organization.",
            )
            return redirect(_url(organization))
        membership.decline_invitation(
            invitation=invitation, user=request.user, ip_address=client_ip(request)
        )
        messages.success(request, f"Invitation to '{organization.name}' is declined.")
    except membership.MembershipError as exc:
        messages.error(request, str(exc))
    return redirect("/manage/organizations/")
