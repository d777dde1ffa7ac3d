"""The export layout, version 1: what `export_index` writes and `import_index` reads.

    DIR/manifest.json    written last, so its presence means the export is complete:
                         {"format": "package-index-export", "version": 1, "created": ISO time,
                          "source": {"database": vendor, "storage": class},
                          "migrations": {app label: latest migration applied},
                          "tables": {NAME: {"file": "NAME.jsonl", "rows": N, "sha256": HEX}},
                          "objects": {"count": N, "bytes": N}}
    DIR/NAME.jsonl       one table, one JSON object per line (keys sorted), ordered by id
    DIR/files/KEY        the bytes of every file at its storage key (`File.path`), and of its
                         PEP 658 metadata at KEY.metadata; the `files` rows carry their size and
                         digests, which check them

Tables, in the order they are imported: groups, users, accounts, emails, recovery_codes,
user_events, organizations, organization_roles, organization_invitations, organization_events,
teams, team_members, projects, releases, files, yank_changes, file_provenance, filename_registry,
roles, role_invitations, team_project_roles, journal, project_events, prohibited_names,
admin_flags, webhook_subscriptions, webhook_deliveries, oidc_issuers, trusted_publishers,
pending_publishers, publisher_tokens, release_age_exemptions, upstream_projects,
allowed_local_names, api_tokens.

A row has one key per column, named after the model field (`project`, not `project_id`).
Datetimes are ISO 8601 with microseconds and an offset. A reference to a user is its username,
never an id, and users and the rows that hang off them (accounts, emails, recovery codes, user
events, API tokens) carry no id at all: they get new ids on import, so an export loads beside
users already in the target. Every other table keeps its ids, because the journal's id is the
serial that mirrors follow and `Project.last_serial` points into it. Columns beyond the model's:
`users.groups` (group names), `users.user_permissions` and `groups.permissions`
("app_label.codename"), `api_tokens.projects` (normalized project names).

Not exported: rows derived from the others, which `import_index` writes again after loading
(`DERIVED_MODELS`: search documents; stored pages and the root's segments are rendered again
at their first read).

A new layout that old code cannot read gets a new `version`; adding a column does not (an
import fills a column the export lacks with its default, and refuses one it does not know).
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import models

from accounts.models import Account, ApiToken, Email, RecoveryCode, UserEvent
from attestations.models import Provenance
from organizations.models import (
    Organization,
    OrganizationEvent,
    OrganizationInvitation,
    OrganizationRole,
    Team,
    TeamMember,
)
from packages.models import (
    AdminFlag,
    File,
    FilenameRegistry,
    JournalEntry,
    ProhibitedProjectName,
    Project,
    ProjectEvent,
    Release,
    ReleaseAgeExemption,
    Role,
    RoleInvitation,
    RootSegment,
    RootSync,
    SearchDocument,
    StoredDocument,
    TeamProjectRole,
    YankChange,
)
from proxy.models import AllowedLocalName, UpstreamProject
from trusted_publishing.models import OidcIssuer, PendingPublisher, PublisherToken, TrustedPublisher
from webhooks.models import Delivery, Subscription

# Derived from exported rows and rebuilt on import, so an export never carries them.
DERIVED_MODELS: tuple[type[models.Model], ...] = (
    SearchDocument,
    StoredDocument,
    RootSegment,
    RootSync,
)

FORMAT = "package-index-export"
VERSION = 1
MANIFEST = "manifest.json"
FILES_DIR = "files"


class BackupError(Exception):
    """An export or import that cannot go on; the message says why and what to do."""


@dataclass(frozen=True)
class Table:
    name: str
    model: type[models.Model]
    # False: rows get new ids on import (users and what belongs to them only).
    keeps_ids: bool

    @property
    def file(self) -> str:
        return f"{self.name}.jsonl"


def tables() -> list[Table]:
    """Every table of the layout, in import order (a row's references come before it)."""
    return [
        Table("groups", Group, keeps_ids=False),
        Table("users", get_user_model(), keeps_ids=False),
        Table("accounts", Account, keeps_ids=False),
        Table("emails", Email, keeps_ids=False),
        Table("recovery_codes", RecoveryCode, keeps_ids=False),
        Table("user_events", UserEvent, keeps_ids=False),
        # Before projects: a project names the organization that owns it.
        Table("organizations", Organization, keeps_ids=True),
        Table("organization_roles", OrganizationRole, keeps_ids=True),
        Table("organization_invitations", OrganizationInvitation, keeps_ids=True),
        Table("organization_events", OrganizationEvent, keeps_ids=True),
        Table("teams", Team, keeps_ids=True),
        Table("team_members", TeamMember, keeps_ids=True),
        Table("projects", Project, keeps_ids=True),
        Table("releases", Release, keeps_ids=True),
        Table("files", File, keeps_ids=True),
        Table("yank_changes", YankChange, keeps_ids=True),
        # PEP 740: a file's verified attestations, served byte for byte, so kept as they are.
        Table("file_provenance", Provenance, keeps_ids=True),
        Table("filename_registry", FilenameRegistry, keeps_ids=True),
        Table("roles", Role, keeps_ids=True),
        Table("role_invitations", RoleInvitation, keeps_ids=True),
        Table("team_project_roles", TeamProjectRole, keeps_ids=True),
        Table("journal", JournalEntry, keeps_ids=True),
        Table("project_events", ProjectEvent, keeps_ids=True),
        Table("prohibited_names", ProhibitedProjectName, keeps_ids=True),
        Table("admin_flags", AdminFlag, keeps_ids=True),
        Table("webhook_subscriptions", Subscription, keeps_ids=True),
        Table("webhook_deliveries", Delivery, keeps_ids=True),
        Table("oidc_issuers", OidcIssuer, keeps_ids=True),
        Table("trusted_publishers", TrustedPublisher, keeps_ids=True),
        Table("pending_publishers", PendingPublisher, keeps_ids=True),
        # Names its token by identifier, which survives the tokens' new ids.
        Table("publisher_tokens", PublisherToken, keeps_ids=True),
        Table("release_age_exemptions", ReleaseAgeExemption, keeps_ids=True),
        Table("upstream_projects", UpstreamProject, keeps_ids=True),
        Table("allowed_local_names", AllowedLocalName, keeps_ids=True),
        # After projects: a token's scope names them.
        Table("api_tokens", ApiToken, keeps_ids=False),
    ]


def columns(table: Table) -> list[models.Field]:
    """The model fields a row holds: every concrete column, but no id where ids are not kept
    (a one-to-one key to the user, as Account has, is a user reference and stays)."""
    return [
        field
        for field in table.model._meta.concrete_fields
        if table.keeps_ids or not field.primary_key or field.is_relation
    ]


def is_user_reference(field: models.Field) -> bool:
    return field.is_relation and field.related_model is get_user_model()


# --- Rows as lines --------------------------------------------------------------------------


def _encode(value: object) -> object:
    if isinstance(value, datetime):
        # Not DjangoJSONEncoder: it cuts microseconds, and a round trip must keep every digit.
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} to an export")


def dump_row(row: dict[str, object]) -> bytes:
    # Sorted keys, nested ones too: PostgreSQL's jsonb reorders an object's keys, and the same
    # rows must give the same bytes (and sha256) whichever database they were read from.
    return (
        json.dumps(row, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=_encode)
        + "\n"
    ).encode()


class Digest:
    """Counts and hashes a table's lines as they are written or read."""

    def __init__(self) -> None:
        self.rows = 0
        self.sha256 = hashlib.sha256()

    def add(self, line: bytes) -> None:
        self.rows += 1
        self.sha256.update(line)

    def entry(self, table: Table) -> dict[str, object]:
        return {"file": table.file, "rows": self.rows, "sha256": self.sha256.hexdigest()}


# --- Storage keys ---------------------------------------------------------------------------


def checked_key(key: str) -> str:
    """A storage key from an export, refused unless it is a plain relative path: it names both
    a file under DIR/files and an object in storage, and must stay inside each."""
    parts = key.split("/")
    if (
        not key
        or "\\" in key
        or "\x00" in key
        or posixpath.isabs(key)
        or any(part in ("", ".", "..") for part in parts)
    ):
        raise BackupError(f"refusing the storage key {key!r}: not a plain relative path")
    return key


def object_path(directory: Path, key: str) -> Path:
    return directory / FILES_DIR / checked_key(key)


def object_keys(file_row: dict[str, object]) -> list[tuple[str, str, int | None]]:
    """(key, sha256, size or None) of the objects a `files` row names: the distribution and,
    for a wheel with PEP 658 metadata, `KEY.metadata` (whose size no column records)."""
    key = str(file_row["path"])
    objects: list[tuple[str, str, int | None]] = [
        (key, str(file_row["sha256_digest"]), int(file_row["size"]))  # type: ignore[arg-type]
    ]
    if file_row.get("metadata_sha256"):
        objects.append((f"{key}.metadata", str(file_row["metadata_sha256"]), None))
    return objects


def is_mirrored(file_row: dict[str, object]) -> bool:
    """A file of an upstream project (proxy/): its objects are in the export only when they
    were cached; the others are fetched from the upstream again on first download."""
    return bool(file_row.get("upstream_url"))


ProgressWrite = Callable[[str], None]
