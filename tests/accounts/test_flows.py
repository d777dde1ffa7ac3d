"""The whole story through the test client: register, verify, 2FA, tokens, upload, collaborate,
revoke."""

from __future__ import annotations

import pytest

from accounts.models import ApiToken, Email, UserEvent
from packages.models import ProjectEvent, Role
from tests.accounts.conftest import PASSWORD, link_in, log_in, register, totp_code
from tests.factories import post_upload, wheel_upload

# Real commits: mail goes out on commit.
pytestmark = pytest.mark.django_db(transaction=True)


def enable_totp(client) -> tuple[str, list[str]]:
    page = client.get("/manage/account/totp-provision")
    assert page.status_code == 200
    secret = page.context["secret"]
    assert "<svg" in page.content.decode() and secret in page.content.decode()
    response = client.post("/manage/account/totp-provision", {"totp_value": totp_code(secret)})
    assert response.status_code == 302, response.content
    response = client.get(response.url)
    assert response.status_code == 200, response.content
    return secret, response.context["codes"]


def create_token(client, description: str, projects=(), expires: str = "") -> str:
    data = {"description": description, "projects": [p.pk for p in projects]}
    if expires:
        data["expires"] = expires
    response = client.post("/manage/account/token/new/", data)
    assert response.status_code == 302, response.context["form"].errors
    issued = client.get(response.url).context["issued"]
    return issued["plaintext"]


def test_register_verify_two_factor_token_upload_collaborate_revoke(client, mailoutbox):
    # Register: logged in at once, the address unverified and a link mailed.
    response = register(client, "alice")
    assert response.status_code == 302
    email = Email.objects.get(email="alice@example.com")
    assert (email.primary, email.verified) == (True, False)
    assert len(mailoutbox) == 1 and mailoutbox[0].to == ["alice@example.com"]

    # Without a verified address the token page sends the user back to verify.
    response = client.get("/manage/account/token/")
    assert response.status_code == 302 and response.url == "/manage/account/"

    # Verify through the mailed link.
    response = client.get(link_in(mailoutbox[0], "/account/verify-email/"))
    assert response.status_code == 302
    email.refresh_from_db()
    assert email.verified

    # TOTP, confirmed with a code computed from the secret; recovery codes shown once.
    secret, codes = enable_totp(client)
    assert len(codes) == 8

    # Log out, then in again: the password alone only reaches the 2FA step.
    client.post("/account/logout/")
    response = log_in(client, "alice", next_url="/manage/account/token/")
    assert response.status_code == 302 and response.url.startswith("/account/two-factor/")
    assert client.get("/manage/account/").status_code == 302  # not logged in yet
    response = client.post(
        response.url, {"totp_value": totp_code(secret, steps_ahead=1), "next": "/manage/account/"}
    )
    assert response.status_code == 302 and response.url == "/manage/account/"
    assert client.get("/manage/account/").status_code == 200

    # And with a recovery code instead, which then works no more.
    client.post("/account/logout/")
    log_in(client, "alice")
    response = client.post("/account/recovery-code/", {"recovery_code_value": codes[0]})
    assert response.status_code == 302
    client.post("/account/logout/")
    log_in(client, "alice")
    response = client.post("/account/recovery-code/", {"recovery_code_value": codes[0]})
    assert response.status_code == 200
    assert "Invalid recovery code." in response.content.decode()
    response = client.post("/account/recovery-code/", {"recovery_code_value": codes[1]})
    assert response.status_code == 302

    # A user-wide token, shown once; upload with it creates the project.
    token = create_token(client, "laptop")
    assert token.startswith("pypi-")
    assert token not in client.get("/manage/account/token/").content.decode()
    assert post_upload(client, wheel_upload("demo", "1.0"), token).status_code == 200
    assert Role.objects.get(project__name="demo").user.username == "alice"
    assert ProjectEvent.objects.filter(tag="project:release:file:add").count() == 1
    listed = client.get("/manage/account/token/").context["tokens"]
    assert [t.description for t in listed] == ["laptop"] and listed[0].last_used is not None

    # Invite bob (registered and verified elsewhere) as Maintainer; he accepts from his mail.
    bob = client_class_for(client)
    register(bob, "bob")
    bob.get(link_in(mailoutbox[-1], "/account/verify-email/"))
    response = client.post(
        "/manage/project/demo/collaboration/", {"username": "bob", "role_name": "Maintainer"}
    )
    assert response.status_code == 302, response.content
    invitation_mail = mailoutbox[-1]
    assert invitation_mail.to == ["bob@example.com"]
    page = bob.get(link_in(invitation_mail, "/account/verify-project-role/"))
    assert page.status_code == 200 and "Maintainer" in page.content.decode()
    response = bob.post(
        "/account/verify-project-role/", {"token": page.context["token"], "accept": "1"}
    )
    assert response.status_code == 302
    assert Role.objects.get(project__name="demo", user__username="bob").role_name == "Maintainer"
    bob_token = create_token(bob, "ci")
    assert post_upload(bob, wheel_upload("demo", "1.1"), bob_token).status_code == 200

    # Revoke alice's token: the next upload with it is refused.
    identifier = ApiToken.objects.get(user__username="alice").identifier
    response = client.post(f"/manage/account/token/{identifier}/revoke/")
    assert response.status_code == 302
    response = post_upload(client, wheel_upload("demo", "2.0"), token)
    assert response.status_code == 403
    assert "Invalid or non-existent authentication information." in response.reason_phrase

    tags = set(UserEvent.objects.filter(user__username="alice").values_list("tag", flat=True))
    assert {
        "account:create",
        "account:email:verified",
        "account:two_factor:method_added",
        "account:login:success",
        "account:recovery_codes:used",
        "account:api_token:added",
        "account:api_token:used",
        "account:api_token:removed",
    } <= tags
    history = client.get("/manage/account/").content.decode()
    assert "account:api_token:removed" in history or "Token Revoke" in history


def client_class_for(client):
    return type(client)()


def test_scoped_token_from_the_page_only_uploads_to_its_project(client):
    register(client, "carol")
    Email.objects.filter(email="carol@example.com").update(verified=True)
    token = create_token(client, "wide")
    for name in ("one", "two"):
        assert post_upload(client, wheel_upload(name, "1.0"), token).status_code == 200
    one = Role.objects.get(project__name="one").project
    scoped = create_token(client, "only one", projects=[one])
    assert post_upload(client, wheel_upload("one", "2.0"), scoped).status_code == 200
    response = post_upload(client, wheel_upload("two", "2.0"), scoped)
    assert response.status_code == 403
    assert "project-scoped token is not valid for project: 'two'" in response.reason_phrase


def test_token_with_past_expiry_date_is_refused_by_the_form(client):
    register(client, "dave")
    Email.objects.filter(email="dave@example.com").update(verified=True)
    response = client.post(
        "/manage/account/token/new/", {"description": "old", "expires": "2000-01-01"}
    )
    assert response.status_code == 400
    assert response.context["form"].errors["expires"] == ["The expiry date must be in the future."]
    assert not ApiToken.objects.exists()


def test_token_description_must_be_unique(client):
    register(client, "erin")
    Email.objects.filter(email="erin@example.com").update(verified=True)
    create_token(client, "ci")
    response = client.post("/manage/account/token/new/", {"description": "ci"})
    assert response.context["form"].errors["description"] == ["API token name already in use"]


def test_password_is_hashed_with_argon2(client):
    register(client, "frank")
    user = Email.objects.get(email="frank@example.com").user
    assert user.password.startswith("argon2$")
    assert user.check_password(PASSWORD)
