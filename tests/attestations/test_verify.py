"""attestations.verify on its own: offline, any publisher kind, the public index's messages."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from pypi_attestations import GitHubPublisher, GitLabPublisher

from attestations.provenance import summarize
from attestations.verify import AttestationRefused, verify_attestations

ASSETS = Path(__file__).parent / "assets"
GITLAB_DIST = ASSETS / "gitlab_oidc_project-0.0.3.tar.gz"
GITLAB = GitLabPublisher(
    repository="facutuesca/gitlab-oidc-project", workflow_filepath=".gitlab-ci.yml"
)


@pytest.fixture
def no_network(monkeypatch):
    """Verification must not reach Sigstore (or anything else)."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"outbound connection attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def field(name: str) -> str:
    return "[" + (ASSETS / name).read_text() + "]"


def test_gitlab_attestation_verifies_offline(no_network):
    verified = verify_attestations(
        GITLAB_DIST,
        GITLAB_DIST.name,
        field("gitlab_oidc_project-0.0.3.tar.gz.publish.attestation"),
        GITLAB,
    )
    assert verified.predicate_types == ["https://docs.pypi.org/attestations/publish/v1"]
    summary = summarize(verified.identity)
    assert (summary.kind, summary.repository, summary.workflow, summary.environment) == (
        "GitLab",
        "facutuesca/gitlab-oidc-project",
        ".gitlab-ci.yml",
        "",
    )


def test_wrong_kind_of_publisher_is_refused(no_network):
    with pytest.raises(AttestationRefused) as refused:
        verify_attestations(
            GITLAB_DIST,
            GITLAB_DIST.name,
            field("gitlab_oidc_project-0.0.3.tar.gz.publish.attestation"),
            GitHubPublisher(repository="facutuesca/gitlab-oidc-project", workflow="x.yml"),
        )
    assert refused.value.message.startswith(
        "Invalid attestations supplied during upload: Could not verify the uploaded artifact "
        "using the included attestation: "
    )


def test_bytes_that_differ_from_the_signed_digest_are_refused(tmp_path, no_network):
    changed = tmp_path / GITLAB_DIST.name
    changed.write_bytes(GITLAB_DIST.read_bytes() + b"\0")
    with pytest.raises(AttestationRefused, match="subject does not match distribution digest"):
        verify_attestations(
            changed,
            changed.name,
            field("gitlab_oidc_project-0.0.3.tar.gz.publish.attestation"),
            GITLAB,
        )
