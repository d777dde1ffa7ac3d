"""attestation_identity: the pypi-attestations publisher for a minted token (PEP 740)."""

from __future__ import annotations

import json

import pytest
from pypi_attestations import GitHubPublisher, GitLabPublisher, GooglePublisher

from accounts.models import ApiToken
from accounts.tokens import create_api_token
from tests.factories import make_project, make_user
from tests.oidc_issuer import github_claims
from trusted_publishing.identity import attestation_identity
from trusted_publishing.models import Kind, PublisherToken
from trusted_publishing.publishers import add_publisher

pytestmark = pytest.mark.django_db


def test_minted_github_token_names_its_repository_and_workflow(client, github, settings):
    settings.TRUSTED_PUBLISHING_AUDIENCE = "testserver"
    owner = make_user("alice")
    project = make_project("sampleproject", owner=owner)
    add_publisher(
        project=project, by=owner, kind=Kind.GITHUB, owner="octo-org", repository="sampleproject",
        owner_id="1234", workflow="release.yml", environment="pypi",
    )  # fmt: skip
    token = github.token(audience="testserver", **github_claims(environment="pypi"))
    response = client.post(
        "/_/oidc/mint-token", json.dumps({"token": token}), content_type="application/json"
    )
    assert response.status_code == 200, response.content
    identity = attestation_identity(ApiToken.objects.get())
    assert isinstance(identity, GitHubPublisher)
    assert identity.repository == "octo-org/sampleproject"
    assert identity.workflow == "release.yml"
    assert identity.environment == "pypi"


def test_other_kinds_and_ordinary_tokens():
    owner = make_user("alice")
    project = make_project("demo", owner=owner)
    ordinary = create_api_token(user=owner).token
    assert attestation_identity(ordinary) is None
    assert attestation_identity(None) is None
    gitlab = add_publisher(
        project=project, by=owner, kind=Kind.GITLAB, owner="group/sub", repository="demo",
        workflow="ci/release.yml",
    )  # fmt: skip
    google = add_publisher(project=project, by=owner, kind=Kind.GOOGLE, email="ci@example.com")
    for publisher, expected in ((gitlab, GitLabPublisher), (google, GooglePublisher)):
        token = create_api_token(user=owner, projects=[project]).token
        PublisherToken.objects.create(
            token_identifier=token.identifier, publisher=publisher, specifier="x"
        )
        assert isinstance(attestation_identity(token), expected)

    def token_of(publisher):
        identifier = PublisherToken.objects.get(publisher=publisher).token_identifier
        return ApiToken.objects.get(identifier=identifier)

    gitlab_identity = attestation_identity(token_of(gitlab))
    assert gitlab_identity.repository == "group/sub/demo"
    assert gitlab_identity.workflow_filepath == "ci/release.yml"
    assert attestation_identity(token_of(google)).email == "ci@example.com"
