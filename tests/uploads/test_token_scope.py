"""A project-scoped token stays scoped after its projects are deleted or renamed."""

from __future__ import annotations

import pytest

from accounts.models import ApiToken
from packages.models import Project
from packages.releases import delete_project
from tests.factories import make_token, make_user, post_upload, wheel_upload
from tests.uploads.test_upload import assert_refused

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice():
    return make_user("alice")


def _scoped_token_for_new_project(client, alice, name: str = "demo") -> str:
    wide = make_token(alice)
    assert post_upload(client, wheel_upload(name, "1.0"), wide).status_code == 200
    return make_token(alice, projects=[Project.objects.get(normalized_name=name)])


def test_scoped_token_cannot_upload_elsewhere_after_its_project_is_deleted(client, alice):
    scoped = _scoped_token_for_new_project(client, alice)
    wide = make_token(alice)
    assert post_upload(client, wheel_upload("other", "1.0"), wide).status_code == 200
    delete_project(project=Project.objects.get(normalized_name="demo"))

    response = post_upload(client, wheel_upload("other", "2.0"), scoped)

    assert_refused(response, 403, "project-scoped token is not valid for project: 'other'")
    assert not Project.objects.get(normalized_name="other").releases.filter(version="2.0").exists()


def test_scoped_token_cannot_create_projects_after_its_project_is_deleted(client, alice):
    scoped = _scoped_token_for_new_project(client, alice)
    delete_project(project=Project.objects.get(normalized_name="demo"))

    for name in ("demo", "brand-new"):
        response = post_upload(client, wheel_upload(name, "1.0"), scoped)
        assert_refused(response, 403, "project-scoped token cannot create new projects")
    assert not Project.objects.exists()


def test_scoped_token_follows_its_project_through_a_rename(client, alice):
    scoped = _scoped_token_for_new_project(client, alice)
    Project.objects.filter(normalized_name="demo").update(name="Demo")

    assert post_upload(client, wheel_upload("Demo", "2.0"), scoped).status_code == 200


def test_token_page_says_a_deleted_scope_is_empty(client, alice):
    scoped = _scoped_token_for_new_project(client, alice)
    delete_project(project=Project.objects.get(normalized_name="demo"))

    token = ApiToken.objects.get(identifier=scoped.split("-", 1)[1].split(".")[0])
    assert token.scoped
    assert token.scope_description == "No project (its projects were deleted)"
