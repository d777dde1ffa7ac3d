"""Storing and reading PEP 740 provenance objects.

`store_provenance` runs inside the upload's row-inserting transaction, right after the File
row, so a file and its provenance are committed together or not at all. The body is built
once, as the public index builds it (one attestation bundle: the publisher and its
attestations), and the Integrity API serves exactly those bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

from pypi_attestations import AttestationBundle, Publisher
from pypi_attestations import Provenance as ProvenanceObject

from attestations.models import Provenance
from attestations.verify import VerifiedAttestations
from packages.models import File

MEDIA_TYPE = "application/vnd.pypi.integrity.v1+json"


@dataclass(frozen=True)
class PublisherSummary:
    kind: str
    repository: str
    workflow: str
    environment: str


def summarize(identity: Publisher) -> PublisherSummary:
    """Kind, repository, workflow and environment of any pypi-attestations publisher (GitLab
    names its workflow `workflow_filepath`; Google has an account instead of a repository)."""
    repository = getattr(identity, "repository", None) or getattr(identity, "email", "") or ""
    workflow = getattr(identity, "workflow", None) or getattr(identity, "workflow_filepath", "")
    return PublisherSummary(
        kind=identity.kind,
        repository=repository[:300],
        workflow=(workflow or "")[:300],
        environment=(getattr(identity, "environment", None) or "")[:300],
    )


def store_provenance(*, file: File, verified: VerifiedAttestations) -> Provenance:
    bundle = AttestationBundle(publisher=verified.identity, attestations=verified.attestations)
    body = ProvenanceObject(attestation_bundles=[bundle]).model_dump_json()
    summary = summarize(verified.identity)
    provenance = Provenance.objects.create(
        file=file,
        publisher_kind=summary.kind,
        repository=summary.repository,
        workflow=summary.workflow,
        environment=summary.environment,
        predicate_types=verified.predicate_types,
        body=body,
    )
    # The simple API lists a `provenance` URL only for files that have one.
    File.objects.filter(pk=file.pk).update(has_provenance=True)
    file.has_provenance = True
    return provenance
