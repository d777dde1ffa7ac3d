"""The organization pages over HTTP: who sees and changes what, bad input answers 4xx, and the
public /org/<name>/ page."""

from __future__ import annotations

import pytest

from organizations import membership
from organizations.models import Organization, OrganizationEvent, OrganizationRole, Team
from tests.factories import make_organization, make_project, make_release, make_team, make_user
from tests.organizations.conftest import logged_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(fast_hashes):
    alice, bob, carol, mallory = (make_user(n) for n in ("alice", "bob", "carol", "mallory"))
    acme = make_organization("acme", owner=alice)
    OrganizationRole.objects.create(user=bob, organization=acme, role_name="Manager")
    OrganizationRole.objects.create(user=carol, organization=acme, role_name="Member")
    return {"alice": alice, "bob": bob, "carol": carol, "mallory": mallory, "acme": acme}


def test_create_an_organization_from_the_page(client, fast_hashes):
    alice = make_user("alice")
    logged_in(client, alice)
    data = {
        "name": "Acme",
        "display_name": "Acme Corporation",
        "link_url": "https://acme.example/",
        "description": "Widgets.",
    }
    response = client.post("/manage/organizations/", data)
    assert response.status_code == 302 and response.url == "/manage/organization/Acme/"
    assert Organization.objects.get().display_name == "Acme Corporation"
    page = client.get("/manage/organizations/")
    assert b"Acme Corporation" in page.content
    again = client.post("/manage/organizations/", {**data, "name": "ACME"})
    assert again.status_code == 400 and b"already been used" in again.content
    bad_url = client.post("/manage/organizations/", {**data, "name": "x2", "link_url": "ftp://x"})
    assert bad_url.status_code == 400
    assert Organization.objects.count() == 1


def test_pending_organization_shows_its_state_and_refuses_invitations(client, people, settings):
    settings.ORGANIZATIONS_REQUIRE_APPROVAL = True
    alice = people["alice"]
    logged_in(client, alice)
    data = {"name": "newco", "display_name": "NewCo", "link_url": "https://n.example/"}
    response = client.post("/manage/organizations/", {**data, "description": "New."})
    assert response.status_code == 302
    page = client.get("/manage/organization/newco/")
    assert b"awaits approval" in page.content
    invite = client.post(
        "/manage/organization/newco/people/", {"username": "bob", "role_name": "Member"}
    )
    assert invite.status_code == 403
    assert client.get("/org/newco/").status_code == 404


@pytest.mark.parametrize(
    ("who", "status"), [("alice", 200), ("bob", 200), ("carol", 200), ("mallory", 403)]
)
def test_members_see_the_management_pages(client, people, who, status):
    logged_in(client, people[who])
    for page in ("", "people/", "teams/", "projects/", "history/"):
        assert client.get(f"/manage/organization/acme/{page}").status_code == status, page


@pytest.mark.parametrize(("who", "status"), [("alice", 302), ("bob", 403), ("carol", 403)])
def test_only_owners_invite(client, people, who, status):
    logged_in(client, people[who])
    response = client.post(
        "/manage/organization/acme/people/", {"username": "mallory", "role_name": "Member"}
    )
    assert response.status_code == status
    assert membership.pending_invitations(organization=people["acme"]).exists() == (status == 302)


@pytest.mark.parametrize(("who", "status"), [("alice", 302), ("bob", 302), ("carol", 403)])
def test_owners_and_managers_make_teams(client, people, who, status):
    logged_in(client, people[who])
    response = client.post("/manage/organization/acme/teams/", {"name": "Core"})
    assert response.status_code == status
    assert Team.objects.filter(name="Core").exists() == (status == 302)


def test_team_page_adds_and_removes_members_and_deletes(client, people):
    team = make_team(people["acme"], "core")
    logged_in(client, people["bob"])
    url = "/manage/organization/acme/team/core/"
    assert client.post(url, {"username": "carol"}).status_code == 302
    refused = client.post(url, {"username": "mallory"})
    assert refused.status_code == 400 and b"not a member" in refused.content
    member = team.members.get()
    assert client.post(url + "remove-member/", {"member_id": member.pk}).status_code == 302
    assert client.post(url + "remove-member/", {"member_id": "x"}).status_code == 404
    assert client.post(url + "delete/").status_code == 302
    assert not Team.objects.exists()
    assert client.get("/manage/organization/acme/team/core/").status_code == 404


def test_members_change_and_leave(client, people):
    carol_role = OrganizationRole.objects.get(user=people["carol"])
    logged_in(client, people["alice"])
    response = client.post(
        "/manage/organization/acme/people/change/",
        {"role_id": carol_role.pk, "role_name": "Manager"},
    )
    assert response.status_code == 302
    carol_role.refresh_from_db()
    assert carol_role.role_name == "Manager"
    logged_in(client, people["bob"])
    alice_role = OrganizationRole.objects.get(user=people["alice"])
    assert (
        client.post("/manage/organization/acme/people/remove/", {"role_id": alice_role.pk})
    ).status_code == 403
    bob_role = OrganizationRole.objects.get(user=people["bob"])
    leave = client.post("/manage/organization/acme/people/remove/", {"role_id": bob_role.pk})
    assert leave.status_code == 302 and leave.url == "/manage/organizations/"
    assert not OrganizationRole.objects.filter(user=people["bob"]).exists()


def test_accept_an_invitation_through_the_link(client, people):
    invitation = membership.invite_member(
        organization=people["acme"],
        username="mallory",
        role_name="Member",
        invited_by=people["alice"],
    )
    token = membership.invitation_token(invitation)
    logged_in(client, people["mallory"])
    page = client.get(f"/account/verify-organization-role/?token={token}")
    assert page.status_code == 200 and b"Invitation to Acme" in page.content
    listed = client.get("/manage/organizations/")
    assert b"Member of 'acme', from 'alice'" in listed.content
    accept = client.post("/account/verify-organization-role/", {"token": token, "accept": "1"})
    assert accept.status_code == 302 and accept.url == "/manage/organization/acme/"
    assert OrganizationRole.objects.get(user=people["mallory"]).role_name == "Member"
    forged = client.get("/account/verify-organization-role/?token=x" + "y" * 5000)
    assert forged.status_code == 302


def test_history_shows_events_but_not_staff_reasons(client, people):
    from organizations import moderation

    moderation.freeze_organization(organization=people["acme"], reason="secret staff note")
    logged_in(client, people["carol"])
    page = client.get("/manage/organization/acme/history/")
    assert b"organization:freeze" in page.content
    assert b"secret staff note" not in page.content
    assert b"frozen by the index staff" in page.content


@pytest.mark.parametrize(
    "path",
    [
        "/manage/organization/nope/",
        "/manage/organization/%00/people/",
        "/manage/organization/" + "a" * 300 + "/teams/",
        "/manage/organization/acme/team/%00/",
        "/manage/organization/acme/team/" + "t" * 300 + "/",
        "/org/%00/",
        "/org/" + "a" * 300 + "/",
        "/org/nope/",
    ],
)
def test_bad_names_answer_404(client, people, path):
    logged_in(client, people["alice"])
    assert client.get(path).status_code == 404


def test_public_page_lists_its_projects_and_redirects_other_spellings(client, people):
    acme = people["acme"]
    project = make_project("widgets", organization=acme)
    make_release(project, "1.0", summary="Spinning widgets")
    make_project("hidden-thing", organization=acme, lifecycle_status="quarantine-enter")
    make_project("personal", owner=people["alice"])
    page = client.get("/org/acme/")
    assert page.status_code == 200
    assert b"widgets" in page.content and b"Spinning widgets" in page.content
    assert b"hidden-thing" not in page.content and b"personal" not in page.content
    assert b"1 project" in page.content
    redirect = client.get("/org/ACME/")
    assert redirect.status_code == 301 and redirect.url == "/org/acme/"
    assert b"/org/acme/" in client.get("/project/widgets/").content
    from organizations import moderation

    moderation.freeze_organization(organization=acme, reason="x")
    assert client.get("/org/acme/").status_code == 404


def test_events_record_who_acted_and_from_where(client, people):
    logged_in(client, people["alice"])
    client.post("/manage/organization/acme/teams/", {"name": "Core"}, REMOTE_ADDR="192.0.2.7")
    event = OrganizationEvent.objects.get(tag="organization:team:create")
    assert (event.user, event.ip_address, event.additional["team"]) == (
        people["alice"],
        "192.0.2.7",
        "Core",
    )


def test_a_team_name_with_url_characters_links_and_redirects_quoted(client, people):
    logged_in(client, people["alice"])
    response = client.post("/manage/organization/acme/teams/", {"name": "Q&A #1?"})
    assert response.status_code == 302
    assert response.url == "/manage/organization/acme/team/Q&A%20%231%3F/"
    page = client.get(response.url)
    assert page.status_code == 200 and b"Team Q&amp;A #1?" in page.content
    listing = client.get("/manage/organization/acme/teams/")
    assert b'href="/manage/organization/acme/team/Q&amp;A%20%231%3F/"' in listing.content
    added = client.post(response.url, {"username": "carol"})
    assert added.status_code == 302 and added.url == response.url
