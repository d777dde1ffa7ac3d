"""An organization's Owners give a project back to a member as a personal project, and delete
the organization once it owns none (typing its name); staff delete one in the admin."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import DELETION, LogEntry
from django.contrib.auth.models import Group
from django.utils import timezone

from organizations import moderation
from organizations.models import Organization, OrganizationEvent, OrganizationRole, Team
from packages import ownership, permissions, staff
from packages.models import JournalEntry, Project, ProjectEvent, Role, TeamProjectRole
from tests.factories import (
    make_organization,
    make_project,
    make_team,
    make_token,
    make_user,
    post_upload,
    wheel_upload,
)
from tests.organizations.conftest import logged_in
from tests.packages.test_admin import offered_actions, run_action

pytestmark = pytest.mark.django_db

REMOVE = "/manage/organization/acme/projects/remove/"
DELETE = "/manage/organization/acme/delete/"


@pytest.fixture
def acme(fast_hashes):
    """acme (Owner olga, Manager max, Members tim and mia) owns widgets, which has no personal
    role; its team devs (tim) holds Maintainer on it."""
    olga = make_user("olga")
    organization = make_organization("acme", owner=olga)
    for name, role in (("max", "Manager"), ("tim", "Member"), ("mia", "Member")):
        OrganizationRole.objects.create(
            user=make_user(name), organization=organization, role_name=role
        )
    widgets = make_project("widgets", organization=organization)
    devs = make_team(organization, "devs", members=[user("tim")])
    TeamProjectRole.objects.create(team=devs, project=widgets, role_name="Maintainer")
    return organization


def user(name: str):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.get(username=name)


def test_an_owner_gives_a_project_back_to_a_member(client, acme):
    olga, tim = user("olga"), user("tim")
    logged_in(client, olga)
    page = client.get("/manage/organization/acme/projects/")
    assert b"Remove a project from the organization" in page.content
    assert b'name="csrfmiddlewaretoken"' in page.content
    response = client.post(REMOVE, {"project": "widgets", "owner": "tim"})
    assert response.status_code == 302
    widgets = Project.objects.get(name="widgets")
    assert widgets.organization is None
    assert Role.objects.get(project=widgets).user == tim
    assert Role.objects.get(project=widgets).role_name == "Owner"
    assert not TeamProjectRole.objects.exists()
    assert Team.objects.filter(name="devs").exists()  # the team stays, without the role
    actions = list(JournalEntry.objects.filter(name="widgets").values_list("action", flat=True))
    assert actions == ["remove organization acme", "add Owner tim"]
    event = ProjectEvent.objects.get(tag="project:organization:remove")
    assert event.additional["organization"] == "acme"
    assert event.additional["removed_team_roles"] == ["devs (Maintainer)"]
    org_event = OrganizationEvent.objects.get(tag="organization:organization_project:remove")
    assert (org_event.user, org_event.additional["project"]) == (olga, "widgets")
    assert org_event.additional["owner"] == "tim"
    history = client.get("/manage/organization/acme/history/")
    assert b"widgets" in history.content
    # The organization's Owner lost the project; its new Owner uploads and manages it.
    assert permissions.manage_denial(user=olga, project=widgets) is not None
    assert permissions.manage_denial(user=tim, project=widgets) is None
    assert post_upload(client, wheel_upload("widgets", "1.0"), make_token(tim)).status_code == 200
    assert b"widgets" not in client.get("/manage/organization/acme/projects/").content


def test_a_maintainer_who_takes_the_project_becomes_its_owner(client, acme):
    mia = user("mia")
    widgets = Project.objects.get(name="widgets")
    Role.objects.create(user=mia, project=widgets, role_name="Maintainer")
    Role.objects.create(user=make_user("carol"), project=widgets, role_name="Maintainer")
    logged_in(client, user("olga"))
    assert client.post(REMOVE, {"project": "widgets", "owner": "mia"}).status_code == 302
    roles = dict(Role.objects.values_list("user__username", "role_name"))
    assert roles == {"mia": "Owner", "carol": "Maintainer"}
    assert JournalEntry.objects.filter(action="change Maintainer mia to Owner").exists()


@pytest.mark.parametrize(
    "data",
    [
        {"project": "widgets", "owner": "stranger"},  # not a member
        {"project": "widgets", "owner": ""},
        {"project": "elsewhere", "owner": "tim"},  # not the organization's
        {"project": "widgets"},
        {"project": "x" * 5000, "owner": "\x00"},
    ],
)
def test_removal_answers_400_to_bad_input(client, acme, data):
    make_user("stranger")
    make_project("elsewhere", owner=user("olga"))
    logged_in(client, user("olga"))
    response = client.post(REMOVE, data)
    assert response.status_code == 400
    assert Project.objects.get(name="widgets").organization == acme
    assert TeamProjectRole.objects.count() == 1


def test_a_member_whose_account_is_inactive_or_frozen_cannot_take_a_project(client, acme):
    from accounts.freezing import freeze_user

    tim = user("tim")
    tim.is_active = False
    tim.save()
    freeze_user(user=user("mia"), reason="test")
    logged_in(client, user("olga"))
    assert client.post(REMOVE, {"project": "widgets", "owner": "tim"}).status_code == 400
    assert client.post(REMOVE, {"project": "widgets", "owner": "mia"}).status_code == 400
    with pytest.raises(ownership.OwnershipError):
        ownership.remove_project_from_organization(
            project=Project.objects.get(name="widgets"),
            organization=acme,
            owner=user("mia"),
            by=user("olga"),
        )
    assert Project.objects.get(name="widgets").organization == acme


def test_a_frozen_organization_keeps_its_projects(client, acme):
    moderation.freeze_organization(organization=acme, reason="x")
    logged_in(client, user("olga"))
    assert client.post(REMOVE, {"project": "widgets", "owner": "tim"}).status_code == 403
    assert client.post(DELETE, {"confirm_organization_name": "acme"}).status_code == 403
    assert Project.objects.get(name="widgets").organization == acme


def test_removal_and_deletion_ask_for_the_password_again_when_it_is_due(client, acme):
    olga = user("olga")
    client.force_login(olga)  # no recent password
    response = client.post(REMOVE, {"project": "widgets", "owner": "tim"})
    assert response.status_code == 302
    assert response["Location"].startswith("/account/reauthenticate/")
    assert Project.objects.get(name="widgets").organization == acme


def test_an_owner_deletes_the_organization_once_it_owns_no_projects(client, acme):
    olga = user("olga")
    logged_in(client, olga)
    page = client.get("/manage/organization/acme/")
    assert b"It still owns 1 project." in page.content
    refused = client.post(DELETE, {"confirm_organization_name": "acme"})
    assert refused.status_code == 400
    assert b"still owns projects" in refused.content
    client.post(REMOVE, {"project": "widgets", "owner": "olga"})
    # A project deleted while it belonged to the organization keeps pointing at it.
    gone = make_project("gone", owner=olga, organization=acme)
    Project.all_objects.filter(pk=gone.pk).update(deleted_at=timezone.now())
    page = client.get("/manage/organization/acme/")
    assert b"Delete organization acme" in page.content
    wrong = client.post(DELETE, {"confirm_organization_name": "ACME"})
    assert wrong.status_code == 400
    assert b"is not the same as" in wrong.content
    assert client.post(DELETE, {}).status_code == 400
    response = client.post(DELETE, {"confirm_organization_name": "acme"})
    assert response.status_code == 302
    assert response["Location"] == "/manage/organizations/"
    assert not Organization.objects.exists()
    assert not OrganizationRole.objects.exists() and not Team.objects.exists()
    assert Project.all_objects.get(pk=gone.pk).organization is None
    event = OrganizationEvent.objects.get(tag="organization:delete")
    assert (event.organization, event.organization_name, event.user) == (None, "acme", olga)
    assert client.get("/manage/organization/acme/").status_code == 404
    assert client.get("/org/acme/").status_code == 404


@pytest.mark.parametrize("name", ["max", "mia"])
def test_managers_and_members_see_no_delete_or_remove_form(client, acme, name):
    logged_in(client, user(name))
    assert b"Delete this organization" not in client.get("/manage/organization/acme/").content
    page = client.get("/manage/organization/acme/projects/")
    assert b"Remove a project" not in page.content


def test_the_owner_of_a_pending_organization_deletes_it(client, fast_hashes):
    alice = make_user("alice")
    make_organization("newco", owner=alice, status="pending")
    logged_in(client, alice)
    response = client.post(
        "/manage/organization/newco/delete/", {"confirm_organization_name": "newco"}
    )
    assert response.status_code == 302
    assert not Organization.objects.exists()


def test_deletion_is_csrf_protected(acme):
    from django.test import Client

    client = logged_in(Client(enforce_csrf_checks=True), user("olga"))
    Project.objects.update(organization=None)
    assert client.post(DELETE, {"confirm_organization_name": "acme"}).status_code == 403
    assert client.post(REMOVE, {"project": "widgets", "owner": "tim"}).status_code == 403
    assert Organization.objects.exists()


def test_administrators_delete_an_empty_organization_in_the_admin(client, acme):
    admin_user = make_user("root", is_staff=True)
    admin_user.groups.add(Group.objects.get(name=staff.ADMINISTRATORS))
    moderator = make_user("mod", is_staff=True)
    moderator.groups.add(Group.objects.get(name=staff.MODERATORS))
    empty = make_organization("emptyco", owner=user("mia"), status="pending")
    client.force_login(moderator)
    assert "delete_organizations" not in offered_actions(client, Organization)
    client.force_login(admin_user)
    assert "delete_selected" not in offered_actions(client, Organization)
    response = run_action(client, Organization, "delete_organizations", [acme, empty], reason="x")
    assert response.status_code == 302
    assert list(Organization.objects.values_list("name", flat=True)) == ["acme"]
    event = OrganizationEvent.objects.get(tag="organization:delete")
    assert (event.organization_name, event.additional["staff_reason"]) == ("emptyco", "x")
    assert LogEntry.objects.get(action_flag=DELETION).change_message == "Deleted: x"
    events = client.get("/admin/organizations/organizationevent/")
    assert events.status_code == 200 and b"emptyco" in events.content


def test_the_json_api_stops_naming_the_organization_once_removed(client, acme):
    from tests.factories import make_release

    widgets = Project.objects.get(name="widgets")
    make_release(widgets, "1.0")
    assert client.get("/pypi/widgets/json").json()["ownership"]["organization"] == "acme"
    ownership.remove_project_from_organization(
        project=widgets, organization=acme, owner=user("tim"), by=user("olga")
    )
    # Journaled, so the answer cached under the old serial is not served again.
    assert client.get("/pypi/widgets/json").json()["ownership"] == {
        "organization": None,
        "roles": [{"role": "Owner", "user": "tim"}],
    }
