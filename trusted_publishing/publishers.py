"""Adding and removing trusted publishers and pending publishers: the one place for each
write, shared by the owners' pages, the account page, the command and admin."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator
from django.db import transaction

from accounts.models import ApiToken
from packages import moderation
from packages.events import record_project_event
from packages.models import Project
from packages.names import is_stdlib_name, is_valid_name, normalize_name
from packages.releases import find_project
from trusted_publishing.models import (
    PUBLISHER_FIELDS,
    Kind,
    OidcIssuer,
    PendingPublisher,
    PublisherFields,
    PublisherToken,
    TrustedPublisher,
)

MAX_PENDING_PER_USER = 10
MAX_PUBLISHERS_PER_PROJECT = 20


class EventTag:
    # Warehouse's names for these project events.
    PUBLISHER_ADD = "project:oidc:publisher-added"
    PUBLISHER_REMOVE = "project:oidc:publisher-removed"
    PUBLISHER_CHANGE = "project:oidc:publisher-changed"  # by staff, in admin
    TOKEN_MINT = "project:short_lived_api_token:added"


class PublisherError(Exception):
    pass


TEXT_LIMIT = 200


def _short(
    value: object, name: str, *, required: bool = False, limit: int = TEXT_LIMIT, at: bool = False
) -> str:
    """Trimmed text; no control characters, backslashes, or (unless `at`) '@', which separates
    a workflow path from its ref in the claims."""
    text = str(value or "").strip()
    if required and not text:
        raise PublisherError(f"The {name} is required.")
    if len(text) > limit or any(ord(c) < 32 or c == "\\" or (c == "@" and not at) for c in text):
        raise PublisherError(f"The {name} is not valid.")
    return text


def _workflow_file(value: object, name: str, *, path: bool) -> str:
    text = _short(value, name, required=True, limit=400)
    if not text.endswith((".yml", ".yaml")):
        raise PublisherError(f"The {name} must end in .yml or .yaml.")
    if (not path and "/" in text) or text.startswith("/") or ".." in text.split("/"):
        raise PublisherError(f"The {name} is not valid.")
    return text


def _issuer_url(value: object) -> str:
    text = str(value or "").strip().rstrip("/")
    if not text:
        return ""
    parts = urlsplit(text)
    if (
        parts.scheme not in {"https", "http"}
        or not parts.hostname
        or parts.query
        or len(text) > 400
    ):
        raise PublisherError(
            "The issuer URL must be an http(s) URL such as https://gitlab.example.com."
        )
    if parts.scheme == "http" and not settings.TRUSTED_PUBLISHING_ALLOW_PRIVATE:
        raise PublisherError("The issuer URL must use https.")
    return "" if text == settings.TRUSTED_PUBLISHING_GITLAB_ISSUER else text


def clean_fields(*, kind: str, **given: object) -> dict[str, object]:
    """The publisher's fields for `kind`, checked and trimmed; others left blank."""
    fields: dict[str, object] = {"kind": kind}
    if kind == Kind.GITHUB:
        fields["owner"] = _short(given.get("owner"), "repository owner", required=True)
        fields["repository"] = _short(given.get("repository"), "repository name", required=True)
        if "/" in fields["owner"] + fields["repository"]:
            raise PublisherError("Give the owner and the repository name apart.")
        owner_id = _short(given.get("owner_id"), "repository owner id", required=True, limit=64)
        if not owner_id.isdigit():
            raise PublisherError("The repository owner id is a number (GitHub's user id).")
        fields["owner_id"] = owner_id
        fields["workflow"] = _workflow_file(given.get("workflow"), "workflow file", path=False)
        fields["environment"] = _short(given.get("environment"), "environment")
    elif kind == Kind.GITLAB:
        fields["owner"] = _short(given.get("owner"), "namespace", required=True)
        fields["repository"] = _short(given.get("repository"), "project name", required=True)
        if "/" in fields["repository"]:
            raise PublisherError("The project name has no '/'; the rest is the namespace.")
        fields["workflow"] = _workflow_file(given.get("workflow"), "CI file path", path=True)
        fields["environment"] = _short(given.get("environment"), "environment")
        fields["issuer_url"] = _issuer_url(given.get("issuer_url"))
    elif kind == Kind.GOOGLE:
        email = _short(
            given.get("email"), "service account email", required=True, limit=254, at=True
        )
        try:
            EmailValidator()(email)
        except ValidationError:
            raise PublisherError("The service account email is not an address.") from None
        fields["email"] = email
        fields["subject"] = _short(given.get("subject"), "subject")
    elif kind == Kind.GENERIC:
        issuer = given.get("issuer")
        if not isinstance(issuer, OidcIssuer) or not issuer.enabled:
            raise PublisherError("Choose one of the issuers the index's staff registered.")
        raw = given.get("claims") or {}
        if not isinstance(raw, dict):
            raise PublisherError("The claims are not valid.")
        claims = {}
        for name in issuer.claim_names:
            claims[name] = _short(raw.get(name), f"claim {name}", required=True, limit=400, at=True)
        fields["issuer"] = issuer
        fields["claims"] = claims
    else:
        raise PublisherError(f"Unknown publisher kind {kind!r}.")
    return fields


def _identity(values: dict[str, object]) -> tuple:
    """What makes two publishers the same, case aside."""
    key = []
    for name in PUBLISHER_FIELDS:
        if name == "added_by":
            continue
        value = values.get(name)
        if name == "issuer":
            key.append(value.pk if value is not None else None)
        elif name == "claims":
            key.append(tuple(sorted((value or {}).items())))
        else:
            key.append(str(value or "").lower())
    return tuple(key)


def _duplicate(queryset, fields: dict[str, object]) -> bool:
    wanted = _identity(fields)
    return any(
        _identity(row.publisher_fields()) == wanted
        for row in queryset.filter(kind=fields["kind"]).select_related("issuer")
    )


@transaction.atomic
def add_publisher(
    *, project: Project, by: AbstractBaseUser | None, ip_address: str | None = None, **given
) -> TrustedPublisher:
    fields = clean_fields(**given)
    existing = TrustedPublisher.objects.filter(project=project)
    if existing.count() >= MAX_PUBLISHERS_PER_PROJECT:
        raise PublisherError(f"A project has at most {MAX_PUBLISHERS_PER_PROJECT} publishers.")
    if _duplicate(existing, fields):
        raise PublisherError("This project already has that publisher.")
    publisher = TrustedPublisher.objects.create(project=project, added_by=by, **fields)
    _record(publisher, EventTag.PUBLISHER_ADD, by=by, ip_address=ip_address)
    return publisher


def _record(
    publisher: TrustedPublisher,
    tag: str,
    *,
    by: AbstractBaseUser | None,
    ip_address: str | None = None,
    **additional: object,
) -> None:
    record_project_event(
        project=publisher.project,
        tag=tag,
        user=by,
        ip_address=ip_address,
        publisher=publisher.specifier,
        kind=publisher.kind,
        **additional,
    )


@transaction.atomic
def remove_publisher(
    *, publisher: TrustedPublisher, by: AbstractBaseUser | None, ip_address: str | None = None
) -> None:
    """Delete it and every upload token it minted that is still alive."""
    minted = PublisherToken.objects.filter(publisher=publisher).values("token_identifier")
    ApiToken.objects.filter(identifier__in=minted).delete()
    _record(publisher, EventTag.PUBLISHER_REMOVE, by=by, ip_address=ip_address)
    publisher.delete()


def pending_name_denial(name: str) -> str | None:
    """Why a pending publisher may not (or no longer) create project `name`."""
    if not is_valid_name(name):
        return f"{name!r} is not a valid project name."
    if find_project(name) is not None:
        return f"The project {name!r} already exists; ask its owners to add the publisher."
    if is_stdlib_name(name):
        return f"The name {name!r} isn't allowed (a Python standard library module)."
    if (denial := moderation.new_project_name_denial(name)) is not None:
        return denial.message
    return None


@transaction.atomic
def add_pending_publisher(*, project_name: str, by: AbstractBaseUser, **given) -> PendingPublisher:
    project_name = str(project_name or "").strip()
    if len(project_name) > 200 or (denial := pending_name_denial(project_name)):
        raise PublisherError(
            denial if project_name and len(project_name) <= 200 else "Give a project name."
        )
    fields = clean_fields(**given)
    normalized = normalize_name(project_name)
    if PendingPublisher.objects.filter(normalized_name=normalized).exists():
        raise PublisherError(f"A pending publisher for {project_name!r} already exists.")
    if PendingPublisher.objects.filter(added_by=by).count() >= MAX_PENDING_PER_USER:
        raise PublisherError(f"You can have at most {MAX_PENDING_PER_USER} pending publishers.")
    return PendingPublisher.objects.create(
        project_name=project_name, normalized_name=normalized, added_by=by, **fields
    )


def remove_pending_publisher(*, pending: PendingPublisher) -> None:
    pending.delete()


def reify_pending_publisher(*, pending: PendingPublisher, project: Project) -> TrustedPublisher:
    """The pending publisher, now an ordinary one of the project it just created."""
    publisher = TrustedPublisher.objects.create(project=project, **pending.publisher_fields())
    pending.delete()
    _record(publisher, EventTag.PUBLISHER_ADD, by=None, reified_from_pending_publisher=True)
    return publisher


def publisher_kinds_fields(publisher: PublisherFields) -> list[tuple[str, str]]:
    """(label, value) rows describing a publisher on pages."""
    rows: list[tuple[str, str]] = []
    if publisher.kind in (Kind.GITHUB, Kind.GITLAB):
        rows.append(("Repository", f"{publisher.owner}/{publisher.repository}"))
        rows.append(("Workflow", publisher.workflow))
        if publisher.kind == Kind.GITHUB:
            rows.append(("Owner id", publisher.owner_id))
        else:
            rows.append(("Issuer", publisher.gitlab_issuer))
        rows.append(("Environment", publisher.environment or "(any)"))
    elif publisher.kind == Kind.GOOGLE:
        rows.append(("Email", publisher.email))
        rows.append(("Subject", publisher.subject or "(any)"))
    else:
        rows.append(("Issuer", str(publisher.issuer)))
        rows.extend((name, str(value)) for name, value in sorted(publisher.claims.items()))
    return rows
