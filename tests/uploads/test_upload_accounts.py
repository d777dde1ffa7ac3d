"""Uploads and the account rules: verified address and 2FA when settings require them, the
project's history of uploads."""

from __future__ import annotations

import pyotp
import pytest

from accounts.models import Account, Email
from packages.models import ProjectEvent
from tests.factories import make_token, make_user, post_upload, wheel_upload

pytestmark = pytest.mark.django_db

UNVERIFIED = (
    "User 'alice', associated with the API token used, does not have a verified primary email "
    "address. Please add a verified primary email before attempting to upload. See "
    "http://testserver/help/#verified-email for more information."
)
NO_2FA = (
    "User 'alice', associated with the API token used, does not have two-factor authentication "
    "enabled. Please enable two-factor authentication before attempting to upload. See "
    "http://testserver/help/#two-factor-authentication for more information."
)


@pytest.fixture
def alice():
    return make_user("alice")


def test_staff_created_user_uploads_by_default(client, alice):
    assert post_upload(client, wheel_upload(), make_token(alice)).status_code == 200


@pytest.mark.parametrize("existing_project", [False, True])
def test_unverified_address_refuses_upload(client, alice, existing_project):
    token = make_token(alice)
    if existing_project:
        assert post_upload(client, wheel_upload("demo", "1.0"), token).status_code == 200
    Email.objects.filter(user=alice).update(verified=False)
    response = post_upload(client, wheel_upload("demo", "2.0"), token)
    assert response.status_code == 403
    assert response.reason_phrase == UNVERIFIED


def test_verified_address_not_required_when_turned_off(client, alice, settings):
    settings.REQUIRE_VERIFIED_EMAIL = False
    Email.objects.filter(user=alice).update(verified=False)
    assert post_upload(client, wheel_upload(), make_token(alice)).status_code == 200


def test_two_factor_required_when_turned_on(client, alice, settings):
    settings.REQUIRE_TWO_FACTOR = True
    token = make_token(alice)
    response = post_upload(client, wheel_upload(), token)
    assert response.status_code == 403
    assert response.reason_phrase == NO_2FA
    Account.objects.create(user=alice, totp_secret=pyotp.random_base32())
    assert post_upload(client, wheel_upload(), token).status_code == 200


def test_uploads_are_kept_in_the_project_history(client, alice):
    token = make_token(alice)
    assert post_upload(client, wheel_upload("demo", "1.0"), token).status_code == 200
    assert post_upload(client, wheel_upload("demo", "1.0"), token).status_code == 200  # same
    events = list(ProjectEvent.objects.order_by("id").values_list("tag", "user__username"))
    assert events == [
        ("project:create", "alice"),
        ("project:role:add", "alice"),
        ("project:release:file:add", "alice"),
    ]
    added = ProjectEvent.objects.get(tag="project:release:file:add")
    assert added.additional["filename"] == "demo-1.0-py3-none-any.whl"
    assert added.additional["token"] == alice.api_tokens.get().identifier
