"""PEP 740: verify the attestations an upload carries, as the public index does.

`verify_attestations` parses the upload's `attestations` form field (a JSON list of PEP 740
attestation objects), then checks each one with `pypi-attestations`: its Sigstore certificate
chains to Sigstore's public-good root, its signature and transparency-log inclusion proof
hold, the signed statement names this file (filename and sha256), and the certificate was
issued to the given trusted publisher's identity (repository and workflow).

It makes no outbound call: the verifier is built `offline`, so sigstore uses the trust root
bundled with sigstore-python (copied once into its TUF cache directory under the process
user's cache folder) instead of refreshing it from Sigstore's TUF repository, and the
attestations carry their own log inclusion proofs. Upgrading sigstore refreshes the root.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

from pydantic import TypeAdapter, ValidationError
from pypi_attestations import (
    Attestation,
    AttestationType,
    Distribution,
    Publisher,
    VerificationError,
)

# The public index accepts one attestation per supported predicate type, so at most two.
SUPPORTED_PREDICATE_TYPES = (AttestationType.PYPI_PUBLISH_V1, AttestationType.SLSA_PROVENANCE_V1)
MAX_ATTESTATIONS = len(SUPPORTED_PREDICATE_TYPES)
# A real attestation is about 10 kB (a certificate, a signature, a log entry); this bounds the
# field long before pydantic parses it.
MAX_FIELD_BYTES = 256 * 1024

_ATTESTATION_LIST = TypeAdapter(list[Attestation])

logger = logging.getLogger(__name__)


class AttestationRefused(Exception):
    """Why the attestations were refused, in the public index's words (without the
    "Invalid attestations supplied during upload: " prefix, which `message` adds)."""

    PREFIX = "Invalid attestations supplied during upload: "

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    @property
    def message(self) -> str:
        return f"{self.PREFIX}{self.detail}"


@dataclass(frozen=True)
class VerifiedAttestations:
    identity: Publisher
    attestations: list[Attestation]
    predicate_types: list[str]


def parse_attestations(raw_field: str) -> list[Attestation]:
    """The form field as attestation objects: a non-empty JSON list of at most two."""
    if len(raw_field.encode("utf-8", "surrogatepass")) > MAX_FIELD_BYTES:
        raise AttestationRefused(
            f"Malformed attestations: the field is larger than {MAX_FIELD_BYTES} bytes"
        )
    try:
        attestations = _ATTESTATION_LIST.validate_json(raw_field)
    except ValidationError as exc:
        raise AttestationRefused(f"Malformed attestations: {_short(exc)}") from None
    if not attestations:
        raise AttestationRefused(
            "Malformed attestations: an empty attestation set is not permitted"
        )
    if len(attestations) > MAX_ATTESTATIONS:
        raise AttestationRefused(
            f"A maximum of {MAX_ATTESTATIONS} attestations per file are supported"
        )
    return attestations


def verify_attestations(
    dist_path: str | Path,
    filename: str,
    raw_field: str,
    identity: Publisher,
    *,
    sha256: str | None = None,
) -> VerifiedAttestations:
    """Parse `raw_field` and verify every attestation against the distribution at `dist_path`
    (uploaded as `filename`; `sha256` when the caller already hashed it) and `identity`.
    Raises AttestationRefused; returns the attestations only if all of them hold."""
    attestations = parse_attestations(raw_field)
    if sha256 is None:
        with open(dist_path, "rb") as body:
            sha256 = hashlib.file_digest(body, "sha256").hexdigest()
    try:
        distribution = Distribution(name=filename, digest=sha256)
    except ValidationError as exc:
        raise AttestationRefused(
            f"Could not verify the uploaded artifact using the included attestation: {_short(exc)}"
        ) from None

    seen: list[str] = []
    for attestation in attestations:
        try:
            predicate_type, _predicate = attestation.verify(identity, distribution, offline=True)
        except VerificationError as exc:
            raise AttestationRefused(
                f"Could not verify the uploaded artifact using the included attestation: {exc}"
            ) from None
        except Exception as exc:  # noqa: BLE001 - a malformed certificate, say: still a 400.
            # Could also be ours (sigstore's cache folder not writable): operators need it.
            logger.warning("attestation verification failed unexpectedly", exc_info=exc)
            raise AttestationRefused(
                f"Unknown error while trying to verify included attestations: {exc}"
            ) from None
        if predicate_type not in SUPPORTED_PREDICATE_TYPES:
            raise AttestationRefused(
                f"Attestation with unsupported predicate type: {predicate_type}"
            )
        if predicate_type in seen:
            raise AttestationRefused(
                f"Multiple attestations for the same file with the same predicate type "
                f"({predicate_type}) are not supported"
            )
        seen.append(predicate_type)
    return VerifiedAttestations(identity=identity, attestations=attestations, predicate_types=seen)


def _short(exc: ValidationError) -> str:
    """pydantic's message without its documentation links, and short enough for a status
    line."""
    lines = [line for line in str(exc).splitlines() if "errors.pydantic.dev" not in line]
    text = " ".join(line.strip() for line in lines)
    return text if len(text) <= 400 else text[:397] + "..."
