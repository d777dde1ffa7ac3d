"""Organizations' rows and rules: creation and names, review, invitations, roles with a last
Owner, teams, and the membership questions read rules ask."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from organizations import membership, moderation, registration, teams
from organizations.membership import MembershipError, is_member, member_organizations
from organizations.models import (
    Organization,
    OrganizationEvent,
    OrganizationInvitation,
    OrganizationRole,
    TeamMember,
)
from tests.factories import make_organization, make_team, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(fast_hashes):
    return make_user("alice")


def create(by, name="Acme-Corp", **fields):
    return registration.create_organization(
        name=name,
        display_name=fields.get("display_name", "Acme Corporation"),
        link_url="https://acme.example/",
        description="Widgets.",
        by=by,
    )


def tags(organization) -> list[str]:
    return list(
        OrganizationEvent.objects.filter(organization=organization)
        .order_by("pk")
        .values_list("tag", flat=True)
    )


def test_creating_makes_the_creator_owner_and_is_approved_by_default(alice):
    organization = create(alice)
    assert organization.normalized_name == "acme-corp"
    assert organization.status == Organization.Status.APPROVED and organization.in_good_standing
    assert OrganizationRole.objects.get(organization=organization).user == alice
    event = OrganizationEvent.objects.get(organization=organization)
    assert (event.tag, event.user, event.additional["status"]) == (
        "organization:create",
        alice,
        "approved",
    )
    assert is_member(alice, organization)


@pytest.mark.parametrize("name", ["acme.corp", "ACME_CORP", "acme--corp"])
def test_a_name_is_taken_in_every_spelling(alice, name):
    create(alice)
    with pytest.raises(MembershipError, match="already been used"):
        create(alice, name=name)


@pytest.mark.parametrize("name", ["-acme", "acme!", "a" * 51, "", "ac me", "acme\x00"])
def test_invalid_names_are_refused(alice, name):
    with pytest.raises(MembershipError, match="invalid"):
        create(alice, name=name)
    assert not Organization.objects.exists()


def test_with_approval_required_it_waits_for_staff_and_grants_nothing(alice, settings):
    settings.ORGANIZATIONS_REQUIRE_APPROVAL = True
    organization = create(alice)
    assert organization.status == Organization.Status.PENDING
    assert not is_member(alice, organization)
    assert not member_organizations(alice).exists()
    moderation.approve_organization(organization=organization, reason="known company", by=None)
    organization.refresh_from_db()
    assert organization.in_good_standing and is_member(alice, organization)
    assert tags(organization) == ["organization:create", "organization:approve"]
    approve = OrganizationEvent.objects.get(tag="organization:approve")
    assert approve.additional["staff_reason"] == "known company"
    with pytest.raises(ValueError, match="not pending"):
        moderation.approve_organization(organization=organization, reason="again")


def test_a_declined_name_is_free_again(alice, settings):
    settings.ORGANIZATIONS_REQUIRE_APPROVAL = True
    first = create(alice)
    moderation.decline_organization(organization=first, reason="spam")
    assert registration.find_organization("acme-corp") is None
    second = create(alice)
    assert second.pk != first.pk and second.status == Organization.Status.PENDING


def test_freezing_lapses_membership_and_unfreezing_restores_it(alice):
    organization = create(alice)
    moderation.freeze_organization(organization=organization, reason="abuse")
    assert not is_member(alice, organization)
    with pytest.raises(ValueError, match="already frozen"):
        moderation.freeze_organization(organization=organization, reason="again")
    moderation.unfreeze_organization(organization=organization, reason="resolved")
    assert is_member(alice, Organization.objects.get(pk=organization.pk))


def test_membership_questions(alice):
    bob, carol = make_user("bob"), make_user("carol")
    acme = make_organization("acme", owner=alice)
    other = make_organization("other", owner=carol)
    OrganizationRole.objects.create(user=bob, organization=acme, role_name="Member")
    assert is_member(bob, acme) and not is_member(bob, other)
    assert not is_member(AnonymousUser(), acme)
    assert set(member_organizations(bob)) == {acme}
    assert set(member_organizations(AnonymousUser())) == set()
    assert membership.is_member_of_id(bob, organization_id=acme.pk)
    assert not membership.is_member_of_id(bob, organization_id=other.pk)
    assert not membership.is_member_of_id(bob, organization_id=None)
    assert not is_member(bob, None)
    moderation.freeze_organization(organization=acme, reason="x")
    assert not membership.is_member_of_id(bob, organization_id=acme.pk)
    bob.is_active = False
    assert not is_member(bob, acme)


def test_invitation_is_mailed_accepted_and_recorded(
    alice, mailoutbox, django_capture_on_commit_callbacks
):
    organization = make_organization("acme", owner=alice)
    bob = make_user("bob")
    with django_capture_on_commit_callbacks(execute=True):
        invitation = membership.invite_member(
            organization=organization, username="BOB", role_name="Manager", invited_by=alice
        )
    assert mailoutbox[0].to == ["bob@example.com"]
    assert "Manager" in mailoutbox[0].subject and "acme" in mailoutbox[0].subject
    token = membership.invitation_token(invitation)
    assert f"http://testserver/account/verify-organization-role/?token={token}" in (
        mailoutbox[0].body
    )
    with pytest.raises(MembershipError, match="not found"):
        membership.find_invitation(token=token, user=alice)  # someone else's link
    found = membership.find_invitation(token=token, user=bob)
    role = membership.accept_invitation(invitation=found, user=bob)
    assert role.role_name == "Manager"
    assert tags(organization) == [
        "organization:organization_role:invite",
        "organization:organization_role:add",
    ]
    with pytest.raises(MembershipError, match="accepted"):
        membership.find_invitation(token=token, user=bob)
    with pytest.raises(MembershipError, match="already Manager"):
        membership.invite_member(
            organization=organization, username="bob", role_name="Member", invited_by=alice
        )


def test_invitations_expire_are_declined_and_revoked(alice):
    organization = make_organization("acme", owner=alice)
    bob, carol = make_user("bob"), make_user("carol")
    invitation = membership.invite_member(
        organization=organization, username="bob", role_name="Member", invited_by=alice
    )
    with pytest.raises(MembershipError, match="active invite"):
        membership.invite_member(
            organization=organization, username="bob", role_name="Owner", invited_by=alice
        )
    OrganizationInvitation.objects.filter(pk=invitation.pk).update(
        expires=timezone.now() - timedelta(seconds=1)
    )
    with pytest.raises(MembershipError, match="expired"):
        membership.find_invitation(token=membership.invitation_token(invitation), user=bob)
    second = membership.invite_member(
        organization=organization, username="carol", role_name="Member", invited_by=alice
    )
    membership.decline_invitation(invitation=second, user=carol)
    third = membership.invite_member(
        organization=organization, username="bob", role_name="Member", invited_by=alice
    )
    membership.revoke_invitation(invitation=third, by=alice)
    with pytest.raises(MembershipError, match="revoked"):
        membership.find_invitation(token=membership.invitation_token(third), user=bob)
    assert not OrganizationRole.objects.filter(user__in=[bob, carol]).exists()
    with pytest.raises(MembershipError, match="Invalid invitation link"):
        membership.find_invitation(token="forged:token", user=bob)
    with pytest.raises(MembershipError, match="No user found"):
        membership.invite_member(
            organization=organization, username="nobody", role_name="Member", invited_by=alice
        )


def test_an_organization_never_loses_its_last_owner(alice):
    organization = make_organization("acme", owner=alice)
    role = OrganizationRole.objects.get(user=alice)
    with pytest.raises(MembershipError, match="last Owner"):
        membership.change_role(role=role, role_name="Member", by=alice)
    with pytest.raises(MembershipError, match="last Owner"):
        membership.remove_role(role=role, by=alice)
    bob = make_user("bob")
    OrganizationRole.objects.create(user=bob, organization=organization, role_name="Owner")
    membership.change_role(role=role, role_name="Member", by=bob)
    assert OrganizationRole.objects.get(user=alice).role_name == "Member"
    assert tags(organization)[-1] == "organization:organization_role:change"


def test_removing_a_member_takes_them_out_of_its_teams(alice):
    organization = make_organization("acme", owner=alice)
    bob = make_user("bob")
    role = OrganizationRole.objects.create(user=bob, organization=organization, role_name="Member")
    make_team(organization, "core", members=[bob])
    other_team = make_team(make_organization("other", owner=bob), "core", members=[bob])
    membership.remove_role(role=role, by=alice)
    assert list(TeamMember.objects.values_list("team", flat=True)) == [other_team.pk]


def test_teams(alice):
    organization = make_organization("acme", owner=alice)
    bob, outsider = make_user("bob"), make_user("outsider")
    OrganizationRole.objects.create(user=bob, organization=organization, role_name="Member")
    team = teams.create_team(organization=organization, name="Core Devs", by=alice)
    assert team.normalized_name == "core devs"
    with pytest.raises(MembershipError, match="already has a team"):
        teams.create_team(organization=organization, name="core devs", by=alice)
    for bad in ("", "-x", "a/b", "x" * 51, "tab\tname"):
        with pytest.raises(MembershipError, match="team name is invalid"):
            teams.create_team(organization=organization, name=bad, by=alice)
    assert teams.find_team(organization=organization, name="CORE DEVS") == team
    assert teams.find_team(organization=organization, name="a/b") is None
    member = teams.add_team_member(team=team, username="bob", by=alice)
    with pytest.raises(MembershipError, match="already in team"):
        teams.add_team_member(team=team, username="bob", by=alice)
    with pytest.raises(MembershipError, match="not a member"):
        teams.add_team_member(team=team, username="outsider", by=alice)
    assert outsider.team_memberships.count() == 0
    teams.remove_team_member(member=member, by=alice)
    teams.delete_team(team=team, by=alice)
    assert tags(organization) == [
        "organization:team:create",
        "organization:team:member:add",
        "organization:team:member:remove",
        "organization:team:delete",
    ]
    events = OrganizationEvent.objects.filter(tag__startswith="organization:team:member")
    assert {e.additional["target_user"] for e in events} == {"bob"}
