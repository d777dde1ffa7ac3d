"""Validation of the upload form and its core metadata (Warehouse checks 1 to 3 and 10).

Each failure raises `UploadError` with PyPI's status and wording.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import readme_renderer.markdown
import readme_renderer.rst
import readme_renderer.txt
import trove_classifiers
from django.conf import settings
from django.http import QueryDict
from packaging.metadata import ExceptionGroup, InvalidMetadata, Metadata, RawMetadata
from packaging.requirements import Requirement
from packaging.version import Version

from packages.models import File, Project, Release
from packages.names import is_valid_name
from packages.rendering import render_markup

SPEC_URL = "https://packaging.python.org/specifications/core-metadata"
ALLOWED_METADATA_VERSIONS = {"1.0", "1.1", "1.2", "2.1", "2.2", "2.3", "2.4", "2.5"}
FILETYPES = {"sdist", "bdist_wheel"}
# Twine and uv send "UNKNOWN" for metadata a package did not set; PyPI treats it as absent.
UNKNOWN = "UNKNOWN"

# Form field -> RawMetadata key, for fields that occur once.
_SINGLE_FIELDS = {
    "metadata_version": "metadata_version",
    "name": "name",
    "version": "version",
    "summary": "summary",
    "description": "description",
    "description_content_type": "description_content_type",
    "keywords": "keywords",
    "home_page": "home_page",
    "download_url": "download_url",
    "author": "author",
    "author_email": "author_email",
    "maintainer": "maintainer",
    "maintainer_email": "maintainer_email",
    "license": "license",
    "license_expression": "license_expression",
    "requires_python": "requires_python",
}
# Form field (plural where the client sends it plural) -> RawMetadata key, for lists.
_MULTI_FIELDS = {
    "classifiers": "classifiers",
    "platform": "platforms",
    "supported_platform": "supported_platforms",
    "requires_dist": "requires_dist",
    "provides_dist": "provides_dist",
    "obsoletes_dist": "obsoletes_dist",
    "requires_external": "requires_external",
    "provides_extra": "provides_extra",
    "dynamic": "dynamic",
    "license_file": "license_files",
}
# The order in which PyPI reports the first metadata error.
_FIELD_ORDER = ["metadata-version", "metadata_version", "name", "version"]


class UploadError(Exception):
    """A refused upload: the status and message the client sees, and `reason`, a short code
    for the kind of refusal (the label of the refused-uploads metric, as the public index tags
    `upload.failed`), so operators can count refusals without reading messages."""

    def __init__(
        self, status: int, message: str, *, reason: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.reason = reason
        self.headers = headers or {}


def bad_request(message: str, *, reason: str) -> UploadError:
    return UploadError(400, message, reason=reason)


@dataclass(frozen=True)
class UploadForm:
    name: str
    version: str
    filetype: str
    pyversion: str
    comment: str
    digests: dict[str, str]
    metadata: Metadata
    # PEP 740: the raw `attestations` field (a JSON list), verified by uploads.attestation_upload.
    attestations: str | None = None


def _clean(value: str) -> str:
    # PyPI escapes NUL rather than refusing it; PostgreSQL could store neither a raw NUL in
    # text nor its JSON escape.
    return "" if value == UNKNOWN else value.replace("\x00", "\\x00")


def _shown(value: str) -> str:
    """A refused value as quoted in a message, cut short: it also goes in the status line."""
    return repr(value if len(value) <= 80 else f"{value[:80]}...")


def _max_length(model: type, field: str) -> int:
    return model._meta.get_field(field).max_length


def _check_form_length(value: str, *, label: str, model: type, field: str) -> None:
    """A form field stored in a column with a length limit: PyPI's form error, not a database
    error (PostgreSQL) or a value SQLite would silently store at any length."""
    limit = _max_length(model, field)
    if len(value) > limit:
        raise bad_request(
            f"{_shown(value)} is an invalid value for {label}. Error: Must be {limit} "
            f"characters or less. See {SPEC_URL} for more information.",
            reason="invalid-form-data",
        )


def validate_form(post: QueryDict, files: dict) -> UploadForm:
    """Checks 0a to 3, in PyPI's order."""
    for field in files:
        if field != "content":
            raise bad_request(f"{field}: Should not be a tuple.", reason="field-is-tuple")
    if post.get("protocol_version", "1") != "1":
        raise bad_request("Unknown protocol version.", reason="unsupported-protocol-version")

    name = _clean(post.get("name", ""))
    if not is_valid_name(name):
        raise bad_request(
            f"{_shown(name)} is an invalid value for Name. Error: Start and end with a letter or "
            "numeral containing only ASCII numeric and '.', '_' and '-'. "
            f"See {SPEC_URL} for more information.",
            reason="invalid-form-data",
        )
    _check_form_length(name, label="Name", model=Project, field="name")
    filetype = post.get("filetype", "")
    if filetype not in FILETYPES:
        raise bad_request(
            "Invalid value for filetype. Error: Use a known file type.", reason="invalid-form-data"
        )
    pyversion = _clean(post.get("pyversion", ""))
    if filetype != "sdist" and not pyversion:
        raise bad_request(
            "Error: Python version is required for binary distribution uploads.",
            reason="invalid-form-data",
        )
    if filetype == "sdist":
        if pyversion and pyversion != "source":
            raise bad_request(
                "Error: Use 'source' as Python version for an sdist.", reason="invalid-form-data"
            )
        pyversion = "source"
    _check_form_length(pyversion, label="Pyversion", model=File, field="python_version")
    digests = _validate_digests(post)
    metadata = validate_metadata(post)
    return UploadForm(
        name=name,
        version=str(metadata.version),
        filetype=filetype,
        pyversion=pyversion,
        comment=_clean(post.get("comment", "")),
        digests=digests,
        metadata=metadata,
        attestations=post.get("attestations"),
    )


_HEX64 = re.compile(r"^[A-Fa-f0-9]{64}$")


def _validate_digests(post: QueryDict) -> dict[str, str]:
    digests = {
        key: post.get(f"{key}_digest", "").lower()
        for key in ("md5", "sha256", "blake2_256")
        if post.get(f"{key}_digest")
    }
    for key, label in (("sha256", "SHA256"), ("blake2_256", "BLAKE2")):
        if key in digests and not _HEX64.match(digests[key]):
            raise bad_request(
                f"Invalid value for {key}_digest. Error: Use a valid, hex-encoded, "
                f"{label} message digest.",
                reason="invalid-form-data",
            )
    if not digests:
        raise bad_request("Error: Include at least one message digest.", reason="invalid-form-data")
    return digests


def raw_metadata_from_form(post: QueryDict) -> RawMetadata:
    raw: RawMetadata = {}
    for field, key in _SINGLE_FIELDS.items():
        value = _clean(post.get(field, ""))
        if value:
            raw[key] = value
    if "keywords" in raw:
        # Metadata 2.x separates keywords with commas; older clients used spaces.
        separator = "," if "," in raw["keywords"] else None
        raw["keywords"] = [k.strip() for k in raw["keywords"].split(separator) if k.strip()]
    for field, key in _MULTI_FIELDS.items():
        values = [_clean(v) for v in post.getlist(field)]
        values = [v for v in values if v]
        if values:
            raw[key] = values
    urls = {}
    for entry in map(_clean, post.getlist("project_urls")):
        label, _, url = entry.partition(",")
        if label.strip():
            urls[label.strip()] = url.strip()
    if urls:
        raw["project_urls"] = urls
    return raw


def validate_metadata(post: QueryDict) -> Metadata:
    """Check 3: `packaging` validation plus PyPI's own rules."""
    raw = raw_metadata_from_form(post)
    if raw.get("metadata_version") not in ALLOWED_METADATA_VERSIONS:
        raise bad_request(
            f"{raw.get('metadata_version', '')!r} is not a valid metadata version. "
            f"See {SPEC_URL} for more information.",
            reason="invalid-metadata",
        )
    if "version" not in raw:
        raise bad_request(
            f"'version' is a required field. See {SPEC_URL} for more information.",
            reason="invalid-metadata",
        )
    # Before parsing: packaging turns each digit run into an int, which Python refuses past
    # 4,300 digits with a plain ValueError; no version that long can be stored anyway.
    _check_length("version", raw["version"])
    try:
        metadata = Metadata.from_raw(raw, validate=True)
    except ExceptionGroup as group:
        errors: list[InvalidMetadata] = [
            e for e in group.exceptions if isinstance(e, InvalidMetadata)
        ]
        errors.sort(
            key=lambda e: (_FIELD_ORDER.index(e.field) if e.field in _FIELD_ORDER else 99, e.field)
        )
        message = str(errors[0]) if errors else str(group.exceptions[0])
        raise bad_request(
            f"{message}. See {SPEC_URL} for more information.", reason="invalid-metadata"
        ) from None
    _check_pypi_rules(metadata)
    _check_stored_lengths(metadata)
    return metadata


def _check_stored_lengths(metadata: Metadata) -> None:
    """Every Release column with a length limit, checked on the value as it will be stored
    (a normalized version can be longer than the one sent: 1.0.post becomes 1.0.post0)."""
    for key, value in release_fields(metadata).items():
        _check_length(key, value)


def _check_length(key: str, value: object) -> None:
    limit = getattr(Release._meta.get_field(key), "max_length", None)
    if limit and isinstance(value, str) and len(value) > limit:
        email_name = key.replace("_", "-")
        raise bad_request(
            f"{email_name!r} field must be {limit} characters or less. "
            f"See {SPEC_URL} for more information.",
            reason="invalid-metadata",
        )


def _check_pypi_rules(metadata: Metadata) -> None:
    version: Version = metadata.version
    if version.local is not None:
        raise bad_request(
            f"The use of local versions in {str(version)!r} is not allowed. "
            f"See {SPEC_URL} for more information.",
            reason="invalid-metadata",
        )
    summary = metadata.summary or ""
    if len(summary) > 512:
        raise bad_request(
            f"'summary' field must be 512 characters or less. See {SPEC_URL} for more information.",
            reason="invalid-metadata",
        )
    if "\n" in summary or "\r" in summary:
        raise bad_request(
            f"'summary' must be a single line. See {SPEC_URL} for more information.",
            reason="invalid-metadata",
        )
    for label in metadata.project_urls or {}:
        if len(label) > 32:
            raise bad_request(
                f"'{label}' is an invalid value for 'project_urls': labels must be 32 characters "
                f"or less. See {SPEC_URL} for more information.",
                reason="invalid-metadata",
            )
    for classifier in metadata.classifiers or []:
        if classifier in trove_classifiers.deprecated_classifiers:
            replacements = trove_classifiers.deprecated_classifiers[classifier]
            raise bad_request(
                f"The classifier {classifier!r} has been deprecated, use one of "
                f"{replacements} instead. See {SPEC_URL} for more information.",
                reason="invalid-metadata",
            )
        if classifier not in trove_classifiers.classifiers:
            raise bad_request(
                f"{classifier!r} is not a valid classifier. See {SPEC_URL} for more information.",
                reason="invalid-metadata",
            )
    for requirement in metadata.requires_dist or []:
        if isinstance(requirement, Requirement) and requirement.url:
            raise bad_request(
                f"Can't have direct dependency: {str(requirement)!r}. "
                f"See {SPEC_URL} for more information.",
                reason="invalid-metadata",
            )
    if metadata.license and metadata.license_expression:
        raise bad_request(
            "License is deprecated when License-Expression is present. Only License-Expression "
            f"should be present. See {SPEC_URL} for more information.",
            reason="invalid-metadata",
        )


_RENDERERS = {
    "text/x-rst": readme_renderer.rst,
    "text/markdown": readme_renderer.markdown,
    "text/plain": readme_renderer.txt,
}


def check_description_renders(metadata: Metadata) -> None:
    """Check 10: PyPI refuses a README it could not render (reStructuredText by default)."""
    description = metadata.description
    if not description:
        return
    content_type = (metadata.description_content_type or "text/x-rst").split(";")[0].strip()
    renderer = _RENDERERS.get(content_type)
    if renderer is None:
        return
    # The renderer's default Markdown variant (GFM), as the release's page is rendered by
    # default, so the render job that follows finds this result kept.
    if render_markup(text=description, renderer=renderer) is None:
        see = f"See {settings.HELP_URL}#description-content-type for more information."
        if metadata.description_content_type:
            raise bad_request(
                f"The description failed to render for '{content_type}'. {see}",
                reason="invalid-description",
            )
        raise bad_request(
            f"The description failed to render in the default format of reStructuredText. {see}",
            reason="invalid-description",
        )


def release_fields(metadata: Metadata) -> dict:
    """Core metadata as `Release` columns."""
    return {
        "version": str(metadata.version),
        "metadata_version": metadata.metadata_version,
        "summary": metadata.summary or "",
        "description": metadata.description or "",
        "description_content_type": metadata.description_content_type or "",
        "keywords": ",".join(metadata.keywords or []),
        "home_page": metadata.home_page or "",
        "download_url": metadata.download_url or "",
        "author": metadata.author or "",
        "author_email": metadata.author_email or "",
        "maintainer": metadata.maintainer or "",
        "maintainer_email": metadata.maintainer_email or "",
        "license": metadata.license or "",
        "license_expression": metadata.license_expression or "",
        "license_files": list(metadata.license_files or []),
        "classifiers": list(metadata.classifiers or []),
        "platforms": list(metadata.platforms or []),
        "supported_platforms": list(metadata.supported_platforms or []),
        "requires_dist": [str(r) for r in metadata.requires_dist or []],
        "provides_extra": [str(e) for e in metadata.provides_extra or []],
        "requires_external": list(metadata.requires_external or []),
        "provides_dist": list(metadata.provides_dist or []),
        "obsoletes_dist": list(metadata.obsoletes_dist or []),
        "project_urls": dict(metadata.project_urls or {}),
        "dynamic": list(metadata.dynamic or []),
        "requires_python": str(metadata.requires_python or ""),
    }
