"""The dependency-confusion guard: an upload may not create a local project under a name the
upstream has, until staff allow the name; then the cached upstream copy makes way, and from
then on only the local project is served."""

from __future__ import annotations

import pytest

from packages.models import Origin, Project
from proxy.models import AllowedLocalName
from tests.factories import make_token, make_user, post_upload, wheel_upload

pytestmark = pytest.mark.django_db

JSON = "application/vnd.pypi.simple.v1+json"


def test_upload_under_an_upstream_name_is_refused_then_allowed(client, upstream):
    upstream.add_wheel("shared-name", "9.0")
    token = make_token(make_user())
    assert client.get("/simple/shared-name/", HTTP_ACCEPT=JSON).status_code == 200

    refused = post_upload(client, wheel_upload("shared-name", "1.0"), token)
    assert refused.status_code == 400
    assert "is a project on the upstream index" in refused.reason_phrase
    assert "dependency confusion" in refused.content.decode()
    assert Project.objects.get(normalized_name="shared-name").origin == Origin.UPSTREAM

    AllowedLocalName.objects.create(
        name="shared-name", normalized_name="shared-name", reason="our own fork"
    )
    assert post_upload(client, wheel_upload("shared-name", "1.0"), token).status_code == 200
    project = Project.objects.get(normalized_name="shared-name")
    assert project.origin == Origin.LOCAL
    files = client.get("/simple/shared-name/", HTTP_ACCEPT=JSON).json()["files"]
    assert [f["filename"] for f in files] == ["shared_name-1.0-py3-none-any.whl"]
    assert list(client.get("/pypi/shared-name/json").json()["releases"]) == ["1.0"]


def test_upload_of_a_name_not_fetched_before_is_checked_upstream(client, upstream):
    upstream.add_wheel("Upstream.Only", "1.0")
    token = make_token(make_user())
    response = post_upload(client, wheel_upload("upstream_only", "1.0"), token)
    assert response.status_code == 400 and "upstream index" in response.reason_phrase
    assert upstream.page_requests("upstream-only") == 1
    assert post_upload(client, wheel_upload("brand-new", "1.0"), token).status_code == 200
    assert Project.objects.get(normalized_name="brand-new").origin == Origin.LOCAL


def test_unreachable_upstream_refuses_new_names_for_now(client, upstream):
    upstream.fail_status = 503
    token = make_token(make_user())
    response = post_upload(client, wheel_upload("brand-new", "1.0"), token)
    assert response.status_code == 400 and "could not be checked" in response.reason_phrase
    assert not Project.objects.exists()


def test_without_upstream_the_guard_is_off(client, settings, upstream):
    upstream.add_wheel("shared-name", "9.0")
    settings.UPSTREAM_INDEX_URL = ""
    token = make_token(make_user())
    assert post_upload(client, wheel_upload("shared-name", "1.0"), token).status_code == 200
    assert upstream.requests == {}
