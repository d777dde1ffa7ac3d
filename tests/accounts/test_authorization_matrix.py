"""Who may do what to project 'demo' (Owner alice, Maintainer bob): every identity against
upload, manage, delete, yank and role changes, each cell allowed (None) or the exact denial;
and who may read 'demo' once it is private (tests/packages/test_private_projects.py walks every
route)."""

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
