"""Projects owned by organizations: moving a personal project in (an Owner of both only),
teams' roles on projects, and what an organization's standing does to them."""

from __future__ import annotations

import pytest

from organizations import moderation
from organizations.models import OrganizationEvent, OrganizationRole
from packages import ownership, permissions
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

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme(fast_hashes):
    alice, bob = make_user("alice"), make_user("bob")
    organization = make_organization("acme", owner=alice)
    OrganizationRole.objects.create(user=bob, organization=organization, role_name="Manager")
    return organization


def user(name: str):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.get(username=name)


def test_an_owner_of_both_moves_a_personal_project_into_the_organization(client, acme):
    alice = user("alice")
    project = make_project("widgets", owner=alice)
    logged_in(client, alice)
    settings_page = client.get("/manage/project/widgets/settings/")
    assert b"Move widgets into the organization" in settings_page.content
    response = client.post("/manage/project/widgets/settings/transfer/", {"organization": "acme"})
    assert response.status_code == 302
    project.refresh_from_db()
    assert project.organization == acme
    assert Role.objects.get(project=project).user == alice  # personal roles stay
    journal = JournalEntry.objects.get(name="widgets")
    assert (journal.action, journal.submitted_by) == ("add organization acme", alice)
    event = ProjectEvent.objects.get(tag="project:organization:add")
    assert event.additional["organization"] == "acme"
    org_event = OrganizationEvent.objects.get(tag="organization:organization_project:add")
    assert org_event.additional["project"] == "widgets"
    assert b"widgets" in client.get("/manage/organization/acme/projects/").content
    assert b"widgets" in client.get("/org/acme/").content
    again = client.post("/manage/project/widgets/settings/transfer/", {"organization": "acme"})
    assert again.status_code == 400  # no longer a choice


def test_a_manager_of_the_organization_cannot_move_a_project_in(client, acme):
    bob = user("bob")
    make_project("widgets", owner=bob)
    logged_in(client, bob)
    response = client.post("/manage/project/widgets/settings/transfer/", {"organization": "acme"})
    assert response.status_code == 400
    assert Project.objects.get().organization is None
    denial = permissions.transfer_project_denial(
        user=bob, project=Project.objects.get(), organization=acme
    )
    assert denial.message == "The user 'bob' isn't an Owner of organization 'acme'."


def test_an_organization_owner_who_is_only_maintainer_cannot_move_a_project(client, acme):
    alice, carol = user("alice"), make_user("carol")
    project = make_project("widgets", owner=carol)
    Role.objects.create(user=alice, project=project, role_name="Maintainer")
    logged_in(client, alice)
    response = client.post("/manage/project/widgets/settings/transfer/", {"organization": "acme"})
    assert response.status_code == 403
    assert Project.objects.get().organization is None


def test_a_frozen_or_pending_organization_takes_no_projects(acme, settings):
    alice = user("alice")
    project = make_project("widgets", owner=alice)
    moderation.freeze_organization(organization=acme, reason="x")
    acme.refresh_from_db()
    denial = permissions.transfer_project_denial(user=alice, project=project, organization=acme)
    assert denial.message == "Organization 'acme' is frozen by the index staff."
    with pytest.raises(ownership.OwnershipError):
        ownership.transfer_project(project=project, organization=acme, by=alice)
    pending = make_organization("newco", owner=alice, status="pending")
    denial = permissions.transfer_project_denial(user=alice, project=project, organization=pending)
    assert denial.message == "Organization 'newco' is awaiting approval by the index staff."


def test_team_roles_grant_upload_and_management(client, acme):
    alice, dave = user("alice"), make_user("dave")
    OrganizationRole.objects.create(user=dave, organization=acme, role_name="Member")
    team = make_team(acme, "core", members=[dave])
    project = make_project("widgets", owner=alice, organization=acme)
    assert permissions.upload_denial(user=dave, project=project) is not None
    logged_in(client, alice)
    url = "/manage/project/widgets/collaboration/team/"
    assert client.post(url, {"team": "core", "role_name": "Maintainer"}).status_code == 302
    assert permissions.upload_denial(user=dave, project=project) is None
    assert permissions.manage_denial(user=dave, project=project) is not None
    token = make_token(dave)
    assert post_upload(client, wheel_upload("widgets", "1.0"), token).status_code == 200
    assert client.post(url, {"team": "core", "role_name": "Owner"}).status_code == 302
    assert permissions.manage_denial(user=dave, project=project) is None
    actions = list(JournalEntry.objects.filter(action__contains="team").values_list("action"))
    assert actions == [("add team core Maintainer",), ("change Maintainer team core Owner",)]
    page = client.get("/manage/project/widgets/collaboration/")
    assert b"Team core" in page.content
    role = TeamProjectRole.objects.get()
    removed = client.post(url + "remove/", {"team_role_id": role.pk})
    assert removed.status_code == 302
    assert permissions.upload_denial(user=dave, project=project) is not None
    tags = set(ProjectEvent.objects.values_list("tag", flat=True))
    assert {"project:team_role:add", "project:team_role:change", "project:team_role:remove"} <= tags
    assert team.organization.events.filter(tag__startswith="organization:team_project").count() == 3


def test_a_team_of_another_organization_gets_no_role(client, acme):
    alice = user("alice")
    make_project("widgets", owner=alice, organization=acme)
    make_team(make_organization("other", owner=alice), "outsiders")
    logged_in(client, alice)
    response = client.post(
        "/manage/project/widgets/collaboration/team/", {"team": "outsiders", "role_name": "Owner"}
    )
    assert response.status_code == 400
    assert not TeamProjectRole.objects.exists()
    personal = make_project("personal", owner=alice)
    with pytest.raises(ownership.OwnershipError):
        ownership.set_team_role(
            project=personal, team=make_team(acme, "core"), role_name="Owner", by=alice
        )


def test_moving_to_another_organization_drops_the_old_teams_roles(acme):
    alice = user("alice")
    project = make_project("widgets", owner=alice, organization=acme)
    ownership.set_team_role(project=project, team=make_team(acme), role_name="Owner", by=alice)
    other = make_organization("other", owner=alice)
    ownership.transfer_project(project=project, organization=other, by=alice)
    assert not TeamProjectRole.objects.exists()
    assert OrganizationEvent.objects.filter(
        organization=acme, tag="organization:organization_project:remove"
    ).exists()


def test_a_frozen_organization_suspends_its_grants_and_its_uploads(client, acme):
    alice, dave, owner = user("alice"), make_user("dave"), make_user("owner")
    OrganizationRole.objects.create(user=dave, organization=acme, role_name="Member")
    project = make_project("widgets", owner=owner, organization=acme)
    ownership.set_team_role(
        project=project, team=make_team(acme, members=[dave]), role_name="Owner", by=alice
    )
    assert permissions.manage_denial(user=alice, project=project) is None  # org Owner
    assert permissions.manage_denial(user=dave, project=project) is None  # team Owner
    moderation.freeze_organization(organization=acme, reason="x")
    assert permissions.manage_denial(user=alice, project=project) is not None
    assert permissions.manage_denial(user=dave, project=project) is not None
    assert permissions.manage_denial(user=owner, project=project) is None  # personal role
    response = post_upload(client, wheel_upload("widgets", "1.0"), make_token(owner))
    assert response.status_code == 403
    assert response.reason_phrase.startswith(
        "Organization account owning this project is inactive."
    )


def test_your_projects_lists_projects_reached_through_organizations(client, acme):
    alice, dave = user("alice"), make_user("dave")
    OrganizationRole.objects.create(user=dave, organization=acme, role_name="Member")
    team = make_team(acme, members=[dave])
    owned = make_project("org-owned", organization=acme)
    via_team = make_project("via-team", organization=acme)
    make_project("unrelated", organization=acme)
    ownership.set_team_role(project=via_team, team=team, role_name="Maintainer", by=alice)
    assert permissions.projects_with_roles(alice) == {owned.pk: "Owner", via_team.pk: "Owner"} | {
        p.pk: "Owner" for p in Project.objects.filter(name="unrelated")
    }
    assert permissions.projects_with_roles(dave) == {via_team.pk: "Maintainer"}
    logged_in(client, dave)
    page = client.get("/manage/projects/").content
    assert b"via-team" in page and b"org-owned" not in page


def test_upload_denial_stays_one_query(django_assert_num_queries, acme):
    alice = user("alice")
    project = make_project("widgets", organization=acme)
    with django_assert_num_queries(2):  # the role and standing, then the organization's standing
        assert permissions.upload_denial(user=alice, project=project) is None
    personal = make_project("personal", owner=alice)
    with django_assert_num_queries(1):
        assert permissions.upload_denial(user=alice, project=personal) is None


def test_json_api_names_the_owning_organization_once_moved(client, acme):
    from tests.factories import make_release

    alice = user("alice")
    project = make_project("widgets", owner=alice)
    make_release(project, "1.0")
    assert client.get("/pypi/widgets/json").json()["ownership"]["organization"] is None
    ownership.transfer_project(project=project, organization=acme, by=alice)
    # The move is journaled, so the cached answer (keyed by serial) is not served again.
    assert client.get("/pypi/widgets/json").json()["ownership"] == {
        "organization": "acme",
        "roles": [{"role": "Owner", "user": "alice"}],
    }
