from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.oidc_issuer import TestIssuer


@pytest.fixture
def github(settings) -> Iterator[TestIssuer]:
    """A loopback issuer standing in for GitHub Actions."""
    with TestIssuer() as issuer:
        settings.TRUSTED_PUBLISHING_GITHUB_ISSUER = issuer.url
        yield issuer


@pytest.fixture
def gitlab(settings) -> Iterator[TestIssuer]:
    """A loopback issuer standing in for a self-managed GitLab (named by its publisher)."""
    with TestIssuer() as issuer:
        settings.TRUSTED_PUBLISHING_ALLOW_PRIVATE = True
        yield issuer


@pytest.fixture
def audience(settings) -> str:
    settings.TRUSTED_PUBLISHING_AUDIENCE = "testserver"
    return "testserver"
