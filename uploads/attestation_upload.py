"""PEP 740 in the upload: who may attach attestations, and their verification (check 22).

Only an upload authenticated by a trusted publisher may carry `attestations`: the publisher's
identity (repository, workflow) is what each attestation must have been signed by. The
identity comes from one seam, `identity_for_token`, so the upload endpoint asks a single
function whichever way trusted publishing issues its tokens.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from accounts.models import ApiToken
from attestations.verify import AttestationRefused, VerifiedAttestations, verify_attestations
from trusted_publishing.identity import attestation_identity
from uploads.checks import UploadError, UploadForm, bad_request

if TYPE_CHECKING:
    from pypi_attestations import Publisher

    from uploads.streaming import HashedUpload


def identity_for_token(token: ApiToken | None) -> Publisher | None:
    """The pypi-attestations Publisher of a trusted publisher's upload token, or None for any
    other token."""
    return attestation_identity(token)


def check_attestations(
    *, form: UploadForm, content: HashedUpload, token: ApiToken | None
) -> VerifiedAttestations | None:
    """None when the upload carries no attestations; the verified ones otherwise. Raises the
    public index's 400 when they are not allowed or do not verify. The identity is looked up
    only for an upload that carries attestations."""
    if form.attestations is None:
        return None
    identity = identity_for_token(token)
    try:
        if identity is None:
            raise AttestationRefused(
                "Attestations are only supported when using Trusted Publishing"
            )
        return verify_attestations(
            content.temporary_file_path(),
            content.name,
            form.attestations,
            identity,
            sha256=content.digests["sha256"],
        )
    except AttestationRefused as exc:
        raise _refusal(exc) from None


def _refusal(exc: AttestationRefused) -> UploadError:
    return bad_request(exc.message, reason="invalid-attestations")
