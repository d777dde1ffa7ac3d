"""Trusted publishers survive export_index and import_index, and a minted token keeps its
publisher (the link names the token by identifier: tokens get new ids on import)."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from pypi_attestations import GitHubPublisher

from accounts.tokens import create_api_token, find_api_token
from packages.models import Project
from tests.backups.seed import FAST_HASHERS, seed_index
from tests.backups.test_export_import import empty_index
from trusted_publishing.identity import attestation_identity
from trusted_publishing.models import (
    Kind,
    OidcIssuer,
    PendingPublisher,
    PublisherToken,
    TrustedPublisher,
)
from trusted_publishing.publishers import add_pending_publisher, add_publisher

pytestmark = pytest.mark.django_db


def test_publishers_and_minted_links_round_trip(tmp_path, settings):
    settings.PASSWORD_HASHERS = FAST_HASHERS
    seed_index()
    project = Project.objects.get(name="demo-one")
    alice = project.roles.get(role_name="Owner").user
    publisher = add_publisher(
        project=project, by=alice, kind=Kind.GITHUB, owner="octo-org", repository="demo-one",
        owner_id="1234", workflow="release.yml",
    )  # fmt: skip
    issuer = OidcIssuer.objects.create(
        name="forgejo", issuer_url="https://code.example.com",
        claim_rules=[{"claim": "repository", "match": "exact"}],
    )  # fmt: skip
    add_pending_publisher(
        project_name="next-thing", by=alice, kind=Kind.GENERIC, issuer=issuer,
        claims={"repository": "team/next-thing"},
    )  # fmt: skip
    issued = create_api_token(user=alice, projects=[project])
    PublisherToken.objects.create(
        token_identifier=issued.token.identifier, publisher=publisher, specifier="x"
    )
    call_command("export_index", str(tmp_path / "export"))
    empty_index()
    for model in (PublisherToken, PendingPublisher, TrustedPublisher, OidcIssuer):
        model.objects.all().delete()

    call_command("import_index", str(tmp_path / "export"), "--verify")

    restored = TrustedPublisher.objects.get()
    assert (restored.project.name, restored.added_by.username) == ("demo-one", "alice")
    pending = PendingPublisher.objects.get()
    assert pending.issuer.name == "forgejo" and pending.claims == {"repository": "team/next-thing"}
    identity = attestation_identity(find_api_token(issued.plaintext))
    assert isinstance(identity, GitHubPublisher) and identity.repository == "octo-org/demo-one"
