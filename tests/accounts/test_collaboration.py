"""Collaborators: invitations (accept, decline, expire, revoke), role changes, and a project
that never loses its last Owner."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from packages import collaboration
from packages.models import JournalEntry, ProjectEvent, Role, RoleInvitation
from tests.factories import make_project, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(fast_hashes):
    return make_user("alice")


@pytest.fixture
def demo(alice):
    return make_project("demo", owner=alice)


def logged_in(client, user):
    client.force_login(user)
    session = client.session
    session["accounts.authenticated_at"] = timezone.now().timestamp()
    session.save()
    return client


def invite(client, username: str, role: str = "Maintainer"):
    return client.post(
        "/manage/project/demo/collaboration/", {"username": username, "role_name": role}
    )


def test_invitation_is_mailed_and_accepted(
    client, alice, demo, mailoutbox, django_capture_on_commit_callbacks
):
    bob = make_user("bob")
    with django_capture_on_commit_callbacks(execute=True):
        assert invite(logged_in(client, alice), "bob", "Owner").status_code == 302
    assert mailoutbox[0].to == ["bob@example.com"]
    assert "Owner" in mailoutbox[0].subject
    invitation = RoleInvitation.objects.get()
    collaboration.accept_invitation(invitation=invitation, user=bob)
    assert Role.objects.get(user=bob).role_name == "Owner"
    tags = list(ProjectEvent.objects.order_by("id").values_list("tag", flat=True))
    assert tags == ["project:role:invite", "project:role:add"]
    assert JournalEntry.objects.filter(action="accepted Owner bob").exists()


def test_invitee_page_lists_and_declines(client, alice, demo):
    bob = make_user("bob")
    invite(logged_in(client, alice), "bob")
    bob_client = logged_in(type(client)(), bob)
    page = bob_client.get("/account/verify-project-role/")
    ((invitation, token),) = page.context["invitations"]
    bob_client.post("/account/verify-project-role/", {"token": token, "decline": "1"})
    invitation.refresh_from_db()
    assert invitation.status == "declined"
    assert not Role.objects.filter(user=bob).exists()


def test_someone_elses_invitation_link_is_refused(client, alice, demo):
    make_user("bob")
    invite(logged_in(client, alice), "bob")
    token = collaboration.invitation_token(RoleInvitation.objects.get())
    mallory = logged_in(type(client)(), make_user("mallory"))
    response = mallory.post("/account/verify-project-role/", {"token": token, "accept": "1"})
    assert response.status_code == 302
    assert not Role.objects.filter(user__username="mallory").exists()


def test_expired_invitation_cannot_be_accepted(alice, demo):
    bob = make_user("bob")
    invitation = RoleInvitation.objects.create(
        user=bob, project=demo, role_name="Owner", invited_by=alice,
        expires=timezone.now() - timedelta(seconds=1),
    )  # fmt: skip
    with pytest.raises(collaboration.CollaborationError, match="expired"):
        collaboration.accept_invitation(invitation=invitation, user=bob)
    assert not Role.objects.filter(user=bob).exists()
    # An expired invitation does not block a new one.
    collaboration.invite_collaborator(
        project=demo, username="bob", role_name="Owner", invited_by=alice
    )


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("nobody", "No user found with the username 'nobody'."),
        ("member", "User 'bob' already has Maintainer role for project"),
        ("pending", "User 'bob' already has an active invite. Please try again later."),
        (
            "unverified",
            "User 'bob' does not have a verified primary email address and cannot be added as "
            "a Maintainer for project",
        ),
    ],
)
def test_invitation_refusals(alice, demo, setup, message):
    if setup != "nobody":
        bob = make_user("bob")
    if setup == "member":
        Role.objects.create(user=bob, project=demo, role_name="Maintainer")
    if setup == "pending":
        collaboration.invite_collaborator(
            project=demo, username="bob", role_name="Owner", invited_by=alice
        )
    if setup == "unverified":
        bob.emails.update(verified=False)
    username = "nobody" if setup == "nobody" else "bob"
    with pytest.raises(collaboration.CollaborationError) as excinfo:
        collaboration.invite_collaborator(
            project=demo, username=username, role_name="Maintainer", invited_by=alice
        )
    assert str(excinfo.value) == message


def test_owner_revokes_an_invitation(client, alice, demo):
    make_user("bob")
    invite(logged_in(client, alice), "bob")
    invitation = RoleInvitation.objects.get()
    client.post(
        "/manage/project/demo/collaboration/revoke-invite/", {"invitation_id": invitation.pk}
    )
    invitation.refresh_from_db()
    assert invitation.status == "revoked"


def test_last_owner_cannot_be_removed_demoted_or_leave(client, alice, demo):
    client = logged_in(client, alice)
    role = Role.objects.get(user=alice)
    client.post("/manage/project/demo/collaboration/delete/", {"role_id": role.pk})
    client.post(
        "/manage/project/demo/collaboration/change/",
        {"role_id": role.pk, "role_name": "Maintainer"},
    )
    role.refresh_from_db()
    assert role.role_name == "Owner"
    with pytest.raises(collaboration.CollaborationError, match="last Owner"):
        collaboration.remove_role(role=role, by=alice)


def test_owner_changes_and_removes_roles_and_may_leave_once_not_last(client, alice, demo):
    bob = make_user("bob")
    bob_role = Role.objects.create(user=bob, project=demo, role_name="Maintainer")
    client = logged_in(client, alice)
    client.post(
        "/manage/project/demo/collaboration/change/", {"role_id": bob_role.pk, "role_name": "Owner"}
    )
    bob_role.refresh_from_db()
    assert bob_role.role_name == "Owner"
    alice_role = Role.objects.get(user=alice)
    response = client.post("/manage/project/demo/collaboration/delete/", {"role_id": alice_role.pk})
    assert response.status_code == 302
    assert list(Role.objects.values_list("user__username", flat=True)) == ["bob"]
    assert {"change Maintainer bob to Owner", "remove Owner alice"} <= set(
        JournalEntry.objects.values_list("action", flat=True)
    )


def test_maintainer_sees_collaborators_may_leave_but_not_manage(client, alice, demo):
    bob = make_user("bob")
    bob_role = Role.objects.create(user=bob, project=demo, role_name="Maintainer")
    client = logged_in(client, bob)
    page = client.get("/manage/project/demo/collaboration/")
    assert page.status_code == 200 and page.context["can_manage"] is False
    assert invite(client, "mallory").status_code == 403
    alice_role = Role.objects.get(user=alice)
    response = client.post("/manage/project/demo/collaboration/delete/", {"role_id": alice_role.pk})
    assert response.status_code == 403
    response = client.post("/manage/project/demo/collaboration/delete/", {"role_id": bob_role.pk})
    assert response.status_code == 302
    assert not Role.objects.filter(user=bob).exists()


def test_outsiders_cannot_see_collaborators(client, demo):
    client = logged_in(client, make_user("mallory"))
    assert client.get("/manage/project/demo/collaboration/").status_code == 403
    assert client.get("/manage/project/nope/collaboration/").status_code == 404
