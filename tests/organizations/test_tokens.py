"""Project-scoped tokens for projects reached through an organization: a team role or the
organization's Owner role is enough to scope an upload token, and membership a read token;
the token page and `create_api_token --project` follow the same rule (permissions)."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from accounts.models import ApiToken
from accounts.tokens import TokenError, find_api_token, issue_api_token
from organizations.models import OrganizationRole
from packages.models import TeamProjectRole
from packages.visibility import set_project_visibility
from tests.factories import (
    basic_auth,
    make_organization,
    make_project,
    make_release,
    make_team,
    make_user,
    post_upload,
    wheel_upload,
)
from tests.organizations.conftest import logged_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(fast_hashes):
    """acme (Owner olga) owns widgets, whose only personal Owner is paula; tim gets Maintainer
    through the team devs; mia is a plain Member; mallory is nobody."""
    users = {name: make_user(name) for name in ("olga", "paula", "tim", "mia", "mallory")}
    acme = make_organization("acme", owner=users["olga"])
    for name in ("tim", "mia"):
        OrganizationRole.objects.create(user=users[name], organization=acme, role_name="Member")
    widgets = make_project("widgets", owner=users["paula"], organization=acme)
    make_release(widgets, "1.0")
    set_project_visibility(project=widgets, private=True)
    devs = make_team(acme, "devs", members=[users["tim"]])
    TeamProjectRole.objects.create(team=devs, project=widgets, role_name="Maintainer")
    return users


def _make_token(client, data: dict):
    return client.post("/manage/account/token/new/", data)


@pytest.mark.parametrize("name", ["tim", "olga"])
def test_a_team_or_organization_owner_grant_scopes_an_upload_token_that_uploads(
    client, world, name
):
    widgets = world["paula"].project_roles.get().project
    logged_in(client, world[name])
    page = client.get("/manage/account/token/")
    assert page.context["form"].fields["projects"].queryset.filter(pk=widgets.pk).exists()
    response = _make_token(client, {"description": "ci", "projects": [widgets.pk]})
    assert response.status_code == 302
    plaintext = client.get(response.url).context["issued"]["plaintext"]
    token = ApiToken.objects.get(description="ci")
    assert token.scoped and list(token.projects.all()) == [widgets]
    client.logout()
    upload = post_upload(client, wheel_upload("widgets", "2.0"), plaintext)
    assert upload.status_code == 200, upload.content
    other = post_upload(client, wheel_upload("elsewhere", "1.0"), plaintext)
    assert other.status_code == 403
    assert other.reason_phrase == (
        "Invalid API Token: project-scoped token cannot create new projects."
    )


def test_a_plain_member_scopes_only_a_read_token_to_the_organizations_project(client, world):
    widgets = world["paula"].project_roles.get().project
    logged_in(client, world["mia"])
    refused = _make_token(client, {"description": "ci", "projects": [widgets.pk]})
    assert refused.status_code == 400
    assert b"You can only scope an upload token to projects you may upload to" in refused.content
    assert not ApiToken.objects.exists()
    data = {"description": "read", "projects": [widgets.pk], "read_only": "on"}
    response = _make_token(client, data)
    assert response.status_code == 302
    plaintext = client.get(response.url).context["issued"]["plaintext"]
    client.logout()
    auth = basic_auth(plaintext)
    assert client.get("/simple/widgets/", HTTP_AUTHORIZATION=auth).status_code == 200
    assert post_upload(client, wheel_upload("widgets", "2.0"), plaintext).status_code == 403


def test_an_outsider_cannot_scope_a_token_to_the_organizations_project(client, world):
    widgets = world["paula"].project_roles.get().project
    mallory = world["mallory"]
    logged_in(client, mallory)
    page = client.get("/manage/account/token/")
    assert not page.context["form"].fields["projects"].queryset.exists()
    for read_only in ("", "on"):
        data = {"description": "x", "projects": [widgets.pk], "read_only": read_only}
        assert _make_token(client, data).status_code == 400
    with pytest.raises(TokenError):
        issue_api_token(user=mallory, projects=[widgets], description="x", read_only=True)
    assert not ApiToken.objects.exists()


def test_a_frozen_organization_grants_no_token_scope(client, world):
    from organizations.moderation import freeze_organization

    widgets = world["paula"].project_roles.get().project
    freeze_organization(organization=widgets.organization, reason="test")
    for name in ("tim", "olga", "mia"):
        with pytest.raises(TokenError):
            issue_api_token(user=world[name], projects=[widgets], description="x", read_only=True)
    issued = issue_api_token(user=world["paula"], projects=[widgets], description="x")
    assert issued.token.scoped  # the personal role stays


def _command(*args) -> str:
    out = io.StringIO()
    call_command("create_api_token", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue().strip().splitlines()[-1]


def test_create_api_token_takes_a_team_granted_project(client, world):
    token = _command("tim", "--project", "widgets")
    assert [p.name for p in find_api_token(token).projects.all()] == ["widgets"]
    assert post_upload(client, wheel_upload("widgets", "2.0"), token).status_code == 200


def test_create_api_token_gives_a_plain_member_only_a_read_token(world):
    with pytest.raises(CommandError, match="^The user 'mia' may not upload to project 'widgets'.$"):
        _command("mia", "--project", "widgets")
    token = _command("mia", "--project", "widgets", "--read-only")
    assert find_api_token(token).read_only
    with pytest.raises(CommandError, match="^The user 'mallory' may not read project 'widgets'.$"):
        _command("mallory", "--project", "widgets", "--read-only")
