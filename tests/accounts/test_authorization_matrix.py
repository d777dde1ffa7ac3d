"""Who may do what to project 'demo' (Owner alice, Maintainer bob): every identity against
upload, manage, delete, yank and role changes, each cell allowed (None) or the exact denial;
and who may read 'demo' once it is private (tests/packages/test_private_projects.py walks every
route). Then the same for 'orgdemo', owned by organization acme (`org_world`), plus acme's
Owner-only changes (removing a project, deleting it) and who may scope a token to it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from accounts.freezing import freeze_user
from accounts.models import ApiToken
from accounts.tokens import create_api_token, revoke_api_token
from packages import permissions
from packages.models import Project, Role
from packages.visibility import set_project_visibility
from tests.factories import basic_auth, make_project, make_user, post_upload, wheel_upload

pytestmark = pytest.mark.django_db

NO_AUTH = (
    "Invalid or non-existent authentication information. See "
    "http://testserver/help/#invalid-auth for more information."
)
LOG_IN = "You must log in first."


def not_owner(name: str) -> str:
    return f"The user '{name}' isn't an Owner of project 'demo'."


def not_uploader(name: str) -> str:
    return (
        f"The user '{name}' isn't allowed to upload to project 'demo'. See "
        "http://testserver/help/#project-name for more information."
    )


@pytest.fixture
def world(fast_hashes):
    alice, bob, mallory, frozen = (make_user(n) for n in ("alice", "bob", "mallory", "frank"))
    demo = make_project("demo", owner=alice)
    Role.objects.create(user=bob, project=demo, role_name="Maintainer")
    Role.objects.create(user=frozen, project=demo, role_name="Owner")
    other = make_project("other", owner=alice)
    freeze_user(user=frozen, reason="test")
    expired = create_api_token(user=alice, expires=timezone.now() - timedelta(minutes=1))
    revoked = create_api_token(user=alice)
    revoke_api_token(user=alice, identifier=revoked.token.identifier)
    return {
        "anonymous": (AnonymousUser(), None),
        "other user": (mallory, create_api_token(user=mallory).plaintext),
        "Maintainer": (bob, create_api_token(user=bob).plaintext),
        "Owner": (alice, create_api_token(user=alice).plaintext),
        "frozen user": (frozen, create_api_token(user=frozen).plaintext),
        "user-wide token": (alice, create_api_token(user=alice).plaintext),
        "token scoped to another project": (
            alice,
            create_api_token(user=alice, projects=[other]).plaintext,
        ),
        "expired token": (alice, expired.plaintext),
        "revoked token": (alice, revoked.plaintext),
        "read-only token": (alice, create_api_token(user=alice, read_only=True).plaintext),
        "read-only token scoped to the project": (
            alice,
            create_api_token(user=alice, projects=[demo], read_only=True).plaintext,
        ),
        "other user's read-only token": (
            mallory,
            create_api_token(user=mallory, read_only=True).plaintext,
        ),
        "staff": (make_user("sam", is_staff=True), None),
    }


UPLOAD = {
    "anonymous": NO_AUTH,
    "other user": not_uploader("mallory"),
    "Maintainer": None,
    "Owner": None,
    "frozen user": NO_AUTH,
    "user-wide token": None,
    "token scoped to another project": (
        "Invalid API Token: project-scoped token is not valid for project: 'demo'"
    ),
    "expired token": NO_AUTH,
    "revoked token": NO_AUTH,
    "read-only token": "Invalid API Token: a read-only token cannot upload.",
    "read-only token scoped to the project": "Invalid API Token: a read-only token cannot upload.",
    "other user's read-only token": "Invalid API Token: a read-only token cannot upload.",
    "staff": NO_AUTH,
}


@pytest.mark.parametrize("identity", UPLOAD)
def test_upload(client, world, identity):
    _user, token = world[identity]
    upload = wheel_upload("demo", "1.0")
    if token is None:
        response = client.post("/legacy/", upload.data())
    else:
        response = post_upload(client, upload, token)
    expected = UPLOAD[identity]
    if expected is None:
        assert response.status_code == 200, response.content
    else:
        assert response.status_code == 403
        assert response.reason_phrase == expected


# Web management is session-only: a token is never a web identity, so token rows are judged
# as their user (the Owner) here and separately shown to open no page (test below).
MANAGE = {
    "anonymous": LOG_IN,
    "other user": not_owner("mallory"),
    "Maintainer": not_owner("bob"),
    "Owner": None,
    "frozen user": "The user 'frank' is frozen.",
}
ACTIONS = {
    "manage": permissions.manage_denial,
    "role changes": permissions.change_roles_denial,
}


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("identity", MANAGE)
def test_manage_delete_yank_and_roles(world, identity, action):
    user, _token = world[identity]
    denial = ACTIONS[action](user=user, project=Project.objects.get(name="demo"))
    assert (denial.message if denial else None) == MANAGE[identity]


@pytest.mark.parametrize(
    "identity",
    ["user-wide token", "token scoped to another project", "expired token", "revoked token"],
)
def test_tokens_open_no_management_page(client, world, identity):
    _user, token = world[identity]
    response = client.post(
        "/manage/project/demo/collaboration/",
        {"username": "mallory", "role_name": "Owner"},
        HTTP_AUTHORIZATION=f"token {token}",
    )
    assert response.status_code == 302
    assert response.url.startswith("/account/login/")
    assert not Role.objects.filter(user__username="mallory").exists()


ROLE_PAGE = {"other user": 403, "Maintainer": 403, "Owner": 302}


@pytest.mark.parametrize("identity", ROLE_PAGE)
def test_role_change_page(client, world, identity):
    user, _token = world[identity]
    client.force_login(user)
    session = client.session
    session["accounts.authenticated_at"] = timezone.now().timestamp()
    session.save()
    bob_role = Role.objects.get(user__username="bob")
    response = client.post(
        "/manage/project/demo/collaboration/change/",
        {"role_id": bob_role.pk, "role_name": "Owner"},
    )
    assert response.status_code == ROLE_PAGE[identity]
    bob_role.refresh_from_db()
    assert bob_role.role_name == ("Owner" if identity == "Owner" else "Maintainer")


def test_frozen_user_is_logged_out_of_the_pages(client, world):
    frozen, _token = world["frozen user"]
    client.force_login(frozen)
    response = client.get("/manage/account/")
    assert response.status_code == 302 and response.url == "/account/login/"
    assert "_auth_user_id" not in client.session


def test_token_stops_working_when_its_user_loses_the_role(client, world):
    bob, token = world["Maintainer"]
    assert post_upload(client, wheel_upload("demo", "1.0"), token).status_code == 200
    Role.objects.filter(user=bob).delete()
    response = post_upload(client, wheel_upload("demo", "1.1"), token)
    assert response.status_code == 403
    assert response.reason_phrase == not_uploader("bob")
    assert ApiToken.objects.filter(user=bob).exists()


# Reading 'demo' once it is private, over HTTP: rows without "token" in their name read with a
# session, the others with HTTP Basic `__token__`. 404 is "no such project"; 401 is a
# credential that is no longer valid.
READ_PRIVATE = {
    "anonymous": 404,
    "other user": 404,
    "Maintainer": 200,
    "Owner": 200,
    "frozen user": 404,
    "user-wide token": 200,
    "token scoped to another project": 404,
    "expired token": 401,
    "revoked token": 401,
    "read-only token": 200,
    "read-only token scoped to the project": 200,
    "other user's read-only token": 404,
    "staff": 200,
}


@pytest.mark.parametrize("identity", READ_PRIVATE)
def test_read_private_project(client, world, identity):
    set_project_visibility(project=Project.objects.get(name="demo"), private=True)
    user, token = world[identity]
    headers = {}
    if "token" in identity:
        headers["HTTP_AUTHORIZATION"] = basic_auth(token)
    elif user.is_authenticated:
        client.force_login(user)
    for url in ("/simple/demo/", "/rss/project/demo/releases.xml"):
        assert client.get(url, **headers).status_code == READ_PRIVATE[identity], url
    # Whoever may upload may also read.
    assert UPLOAD[identity] is not None or READ_PRIVATE[identity] == 200


# --- Organizations --------------------------------------------------------------------------
# Project 'orgdemo' belongs to organization 'acme' and has one personal Owner (paula). acme's
# Owner, Manager and Member, a member of a team with Owner on the project and one of a team
# with Maintainer, each against upload, manage and role changes; then the same project once
# staff have frozen acme.


def not_owner_of(name: str, project: str = "orgdemo") -> str:
    return f"The user '{name}' isn't an Owner of project '{project}'."


def not_uploader_to(name: str, project: str = "orgdemo") -> str:
    return (
        f"The user '{name}' isn't allowed to upload to project '{project}'. See "
        "http://testserver/help/#project-name for more information."
    )


INACTIVE = (
    "Organization account owning this project is inactive. See "
    "http://testserver/help/#admin-intervention for more information."
)


@pytest.fixture
def org_world(fast_hashes):
    from organizations.models import OrganizationRole
    from packages.models import TeamProjectRole
    from tests.factories import make_organization, make_team

    users = {n: make_user(n) for n in ("paula", "olga", "max", "mia", "tom", "tim", "mallory")}
    acme = make_organization("acme", owner=users["olga"])
    for name, role in (("max", "Manager"), ("mia", "Member"), ("tom", "Member"), ("tim", "Member")):
        OrganizationRole.objects.create(user=users[name], organization=acme, role_name=role)
    project = make_project("orgdemo", owner=users["paula"], organization=acme)
    admins = make_team(acme, "admins", members=[users["tom"]])
    devs = make_team(acme, "devs", members=[users["tim"]])
    TeamProjectRole.objects.create(team=admins, project=project, role_name="Owner")
    TeamProjectRole.objects.create(team=devs, project=project, role_name="Maintainer")
    # A team of the organization with a role on another project only.
    other = make_project("elsewhere", organization=acme)
    TeamProjectRole.objects.create(team=make_team(acme, "others", members=[users["mia"]]),
                                   project=other, role_name="Owner")  # fmt: skip
    return {
        "personal Owner": users["paula"],
        "organization Owner": users["olga"],
        "organization Manager": users["max"],
        "organization Member": users["mia"],
        "team Owner": users["tom"],
        "team Maintainer": users["tim"],
        "other user": users["mallory"],
    }


ORG_UPLOAD = {
    "personal Owner": None,
    "organization Owner": None,
    "organization Manager": not_uploader_to("max"),
    "organization Member": not_uploader_to("mia"),
    "team Owner": None,
    "team Maintainer": None,
    "other user": not_uploader_to("mallory"),
}
ORG_MANAGE = {
    "personal Owner": None,
    "organization Owner": None,
    "organization Manager": not_owner_of("max"),
    "organization Member": not_owner_of("mia"),
    "team Owner": None,
    "team Maintainer": not_owner_of("tim"),
    "other user": not_owner_of("mallory"),
}
# Frozen: only personal roles count, and uploads stop for everyone.
FROZEN_UPLOAD = {
    identity: (INACTIVE if identity == "personal Owner" else not_uploader_to(user))
    for identity, user in (
        ("personal Owner", "paula"),
        ("organization Owner", "olga"),
        ("organization Manager", "max"),
        ("organization Member", "mia"),
        ("team Owner", "tom"),
        ("team Maintainer", "tim"),
        ("other user", "mallory"),
    )
}


@pytest.mark.parametrize("identity", ORG_UPLOAD)
def test_organization_upload(client, org_world, identity):
    token = create_api_token(user=org_world[identity]).plaintext
    response = post_upload(client, wheel_upload("orgdemo", "1.0"), token)
    expected = ORG_UPLOAD[identity]
    if expected is None:
        assert response.status_code == 200, response.content
    else:
        assert response.status_code == 403
        assert response.reason_phrase == expected


@pytest.mark.parametrize("action", [*ACTIONS, "team roles"])
@pytest.mark.parametrize("identity", ORG_MANAGE)
def test_organization_manage_and_roles(org_world, identity, action):
    check = ACTIONS.get(action, permissions.change_team_roles_denial)
    denial = check(user=org_world[identity], project=Project.objects.get(name="orgdemo"))
    assert (denial.message if denial else None) == ORG_MANAGE[identity]


@pytest.mark.parametrize("identity", ORG_UPLOAD)
def test_frozen_organization_grants_nothing(client, org_world, identity):
    from organizations.models import Organization
    from organizations.moderation import freeze_organization

    freeze_organization(organization=Organization.objects.get(name="acme"), reason="test")
    user = org_world[identity]
    project = Project.objects.get(name="orgdemo")
    token = create_api_token(user=user).plaintext
    response = post_upload(client, wheel_upload("orgdemo", "1.0"), token)
    assert response.status_code == 403
    assert response.reason_phrase == FROZEN_UPLOAD[identity]
    denial = permissions.manage_denial(user=user, project=project)
    expected = None if identity == "personal Owner" else not_owner_of(user.get_username())
    assert (denial.message if denial else None) == expected


@pytest.mark.parametrize(
    ("identity", "allowed"),
    [
        ("personal Owner", False),  # not an Owner of the organization
        ("organization Owner", True),
        ("organization Manager", False),
        ("team Owner", False),
    ],
)
def test_moving_a_project_into_an_organization_takes_an_owner_of_both(org_world, identity, allowed):
    from organizations.models import OrganizationRole
    from tests.factories import make_organization

    user = org_world[identity]
    mine = make_project(f"mine-{user.get_username()}", owner=user)
    target = make_organization("target")
    for name in ("olga", "max"):
        role = "Owner" if name == "olga" else "Manager"
        OrganizationRole.objects.create(
            user=org_world[f"organization {role}"], organization=target, role_name=role
        )
    denial = permissions.transfer_project_denial(user=user, project=mine, organization=target)
    assert (denial is None) == allowed, denial


# Owner-only changes to the organization itself (organizations/permissions.py): someone who is
# not a member is told there is no such organization; a member without the power gets 403.
ORG_OWNER_ONLY = {
    "personal Owner": 404,  # of orgdemo, but not a member of acme
    "organization Owner": 302,
    "organization Manager": 403,
    "organization Member": 403,
    "team Owner": 403,
    "team Maintainer": 403,
    "other user": 404,
}


@pytest.mark.parametrize("action", ["remove project", "delete organization"])
@pytest.mark.parametrize("identity", ORG_OWNER_ONLY)
def test_organization_owner_only_changes(client, org_world, identity, action):
    from organizations.models import Organization
    from tests.organizations.conftest import logged_in

    if action == "remove project":
        url = "/manage/organization/acme/projects/remove/"
        data = {"project": "orgdemo", "owner": "mia"}
    else:
        # Emptied first, so that the Owner's answer is about who asks, not what it owns.
        Project.objects.update(organization=None)
        url, data = "/manage/organization/acme/delete/", {"confirm_organization_name": "acme"}
    anonymous = client.post(url, data)
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/account/login/")
    logged_in(client, org_world[identity])
    response = client.post(url, data)
    assert response.status_code == ORG_OWNER_ONLY[identity]
    done = response.status_code == 302
    if action == "remove project":
        assert (Project.objects.get(name="orgdemo").organization is None) == done
    else:
        assert Organization.objects.filter(name="acme").exists() != done


# Which identities may scope a token to orgdemo (packages.permissions.token_scope_projects):
# an upload token where they may upload, a read token also where they may read.
ORG_TOKEN_SCOPE = {
    "personal Owner": (True, True),
    "organization Owner": (True, True),
    "organization Manager": (False, True),
    "organization Member": (False, True),
    "team Owner": (True, True),
    "team Maintainer": (True, True),
    "other user": (False, False),
}


@pytest.mark.parametrize("identity", ORG_TOKEN_SCOPE)
def test_organization_token_scope(org_world, identity):
    from accounts.tokens import TokenError, issue_api_token

    user, orgdemo = org_world[identity], Project.objects.get(name="orgdemo")
    for read_only, allowed in zip((False, True), ORG_TOKEN_SCOPE[identity], strict=True):
        try:
            issued = issue_api_token(
                user=user, projects=[orgdemo], description=f"{read_only}", read_only=read_only
            )
        except TokenError:
            issued = None
        assert (issued is not None) == allowed, (identity, read_only)
        assert (issued is None) or list(issued.token.projects.all()) == [orgdemo]
