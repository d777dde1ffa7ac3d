"""Who a minted upload token speaks for, in pypi-attestations' terms: the identity a PEP 740
attestation uploaded with it must be signed by."""

from __future__ import annotations

from pypi_attestations import GitHubPublisher, GitLabPublisher, GooglePublisher

from accounts.models import ApiToken
from trusted_publishing.models import Kind, PublisherToken

Publisher = GitHubPublisher | GitLabPublisher | GooglePublisher


def attestation_identity(token: ApiToken | None) -> Publisher | None:
    """The publisher object matching the trusted publisher that minted `token`; None for an
    ordinary token, a removed publisher, or a generic issuer (no Sigstore identity for it)."""
    if token is None:
        return None
    link = (
        PublisherToken.objects.filter(token_identifier=token.identifier)
        .select_related("publisher")
        .first()
    )
    if link is None or link.publisher is None:
        return None
    publisher = link.publisher
    environment = publisher.environment or None
    if publisher.kind == Kind.GITHUB:
        return GitHubPublisher(
            repository=f"{publisher.owner}/{publisher.repository}",
            workflow=publisher.workflow,
            environment=environment,
        )
    if publisher.kind == Kind.GITLAB:
        return GitLabPublisher(
            repository=f"{publisher.owner}/{publisher.repository}",
            workflow_filepath=publisher.workflow,
            environment=environment,
        )
    if publisher.kind == Kind.GOOGLE:
        return GooglePublisher(email=publisher.email)
    return None
