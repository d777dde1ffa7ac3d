"""Staff review and freeze organizations in admin, each action asking for a reason that goes
to the organization's history and the admin log."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Group
from django.urls import reverse

from organizations.models import Organization, OrganizationEvent
from packages import staff
from tests.factories import make_organization, make_project, make_team, make_user
from tests.packages.test_admin import changelist, run_action

pytestmark = pytest.mark.django_db


@pytest.fixture
def moderator():
    user = make_user("mod", is_staff=True)
    user.groups.add(Group.objects.get(name=staff.MODERATORS))
    return user


def test_moderator_approves_and_declines_with_reasons(
    client, moderator, mailoutbox, django_capture_on_commit_callbacks
):
    alice, bob = make_user("alice"), make_user("bob")
    pending = make_organization("newco", owner=alice, status="pending", created_by=alice)
    spam = make_organization("spamco", owner=bob, status="pending", created_by=bob)
    client.force_login(moderator)
    with django_capture_on_commit_callbacks(execute=True):
        response = run_action(client, Organization, "approve", [pending], reason="Known company")
    assert response.status_code == 302
    pending.refresh_from_db()
    assert pending.status == "approved" and pending.reviewed_at is not None
    event = OrganizationEvent.objects.get(tag="organization:approve")
    assert (event.user, event.additional["staff_reason"]) == (moderator, "Known company")
    assert LogEntry.objects.get(object_id=str(pending.pk)).change_message == (
        "Approved: Known company"
    )
    with django_capture_on_commit_callbacks(execute=True):
        run_action(client, Organization, "decline", [spam], reason="Spam")
    spam.refresh_from_db()
    assert spam.status == "declined"
    approved_mail, declined_mail = mailoutbox
    assert approved_mail.to == ["alice@example.com"] and "approved" in approved_mail.subject
    assert "http://testserver/manage/organization/newco/" in approved_mail.body
    assert declined_mail.to == ["bob@example.com"] and "declined" in declined_mail.subject
    assert "Known company" not in approved_mail.body
    assert "Spam" not in declined_mail.body.replace("spamco", "").replace("Spamco", "")
    # Declining an approved one is refused with a message; nothing changes.
    response = run_action(client, Organization, "decline", [pending], reason="oops")
    pending.refresh_from_db()
    assert pending.status == "approved"


def test_an_action_without_a_reason_shows_the_form_again(client, moderator):
    pending = make_organization("newco", status="pending")
    client.force_login(moderator)
    data = {
        "action": "approve",
        "_selected_action": [str(pending.pk)],
        "index": "0",
        "select_across": "0",
        "apply": "1",
    }
    response = client.post(changelist(Organization), data)
    assert response.status_code == 200 and response.context["form"].errors
    pending.refresh_from_db()
    assert pending.status == "pending"


def test_moderator_freezes_and_unfreezes(client, moderator):
    acme = make_organization("acme", owner=make_user("alice"))
    client.force_login(moderator)
    run_action(client, Organization, "freeze", [acme], reason="Abuse report 12")
    acme.refresh_from_db()
    assert not acme.is_active
    run_action(client, Organization, "unfreeze", [acme], reason="Resolved")
    acme.refresh_from_db()
    assert acme.is_active
    tags = list(OrganizationEvent.objects.order_by("pk").values_list("tag", flat=True))
    assert tags == ["organization:freeze", "organization:unfreeze"]


def test_every_organization_model_has_an_admin_page(client, moderator):
    alice = make_user("alice")
    acme = make_organization("acme", owner=alice)
    make_team(acme, members=[alice])
    project = make_project("widgets", organization=acme)
    from packages.models import TeamProjectRole

    TeamProjectRole.objects.create(team=acme.teams.get(), project=project, role_name="Owner")
    client.force_login(moderator)
    models = [
        m
        for m in admin.site._registry
        if m._meta.app_label == "organizations" or m is TeamProjectRole
    ]
    assert len(models) == 7
    for model in models:
        assert client.get(changelist(model)).status_code == 200, model
        obj = model._default_manager.first()
        if obj is not None:
            url = reverse(
                f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[obj.pk]
            )
            assert client.get(url).status_code == 200, model
    found = client.get(changelist(Organization) + "?q=ACME").context["cl"].result_count
    assert found == 1
