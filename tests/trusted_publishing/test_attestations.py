"""PEP 740 through a real exchange: a token minted for a trusted publisher carries that
publisher's identity into the upload (uploads.attestation_upload.identity_for_token), so the
pypi-attestations project's real published attestation is accepted for its real sdist, and
refused when the publisher names another repository or the token is an ordinary one."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model

from attestations.models import Provenance
from packages.models import File
from tests.attestations.test_upload_attestations import DIST, asset, attestation_field, dist_upload
from tests.factories import make_project, make_token, make_user, post_upload
from tests.oidc_issuer import github_claims
from trusted_publishing.models import Kind
from trusted_publishing.publishers import add_publisher

pytestmark = pytest.mark.django_db


def minted_token(client, github, *, repository: str) -> str:
    owner = make_user("alice")
    project = make_project("pypi-attestations", owner=owner)
    add_publisher(
        project=project, by=owner, kind=Kind.GITHUB, owner=repository.partition("/")[0],
        repository=repository.partition("/")[2], owner_id="2314423", workflow="release.yml",
    )  # fmt: skip
    jwt = github.token(
        audience="testserver",
        **github_claims(repository=repository, owner_id="2314423", workflow="release.yml"),
    )
    response = client.post(
        "/_/oidc/mint-token", json.dumps({"token": jwt}), content_type="application/json"
    )
    assert response.status_code == 200, response.content
    return response.json()["token"]


def test_a_publishers_token_uploads_its_real_attestation(
    client, github, settings, django_capture_on_commit_callbacks
):
    settings.TRUSTED_PUBLISHING_AUDIENCE = "testserver"
    token = minted_token(client, github, repository="trailofbits/pypi-attestations")
    published = asset(f"{DIST}.publish.attestation")
    with django_capture_on_commit_callbacks(execute=True):
        response = post_upload(
            client, dist_upload(attestations=attestation_field(published)), token
        )
    assert response.status_code == 200, response.content
    row = Provenance.objects.get()
    assert (row.repository, row.workflow) == ("trailofbits/pypi-attestations", "release.yml")


def test_another_repositorys_publisher_or_an_ordinary_token_is_refused(client, github, settings):
    settings.TRUSTED_PUBLISHING_AUDIENCE = "testserver"
    token = minted_token(client, github, repository="someone-else/pypi-attestations")
    published = asset(f"{DIST}.publish.attestation")
    response = post_upload(client, dist_upload(attestations=attestation_field(published)), token)
    assert response.status_code == 400
    assert b"Invalid attestations supplied during upload" in response.content
    ordinary = make_token(get_user_model().objects.get(username="alice"))
    response = post_upload(client, dist_upload(attestations=attestation_field(published)), ordinary)
    assert response.status_code == 400
    assert b"only supported when using Trusted Publishing" in response.content
    assert not File.objects.exists() and not Provenance.objects.exists()
