"""`import_index`: an export (backups/layout.py) into a freshly migrated database with no
projects, and its bytes into storage through `packages.storage.store_verified`.

Ids: project-side tables keep theirs (the target has none of those rows, and the journal's ids
are the serials mirrors follow), then PostgreSQL's sequences are moved past them. Users and
their rows get new ids, because the target may already have users (an admin made after
`migrate`): those are left alone, and an export user with the same username is refused.

All or nothing: the objects are stored first, then every row goes in one transaction (checked
by --verify before it commits); if anything fails, the rows roll back and the objects this run
wrote are deleted again (objects that were already there, sound, are left).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.files.storage import storages
from django.core.management.color import no_style
from django.db import IntegrityError, connection, models, transaction
from django.db.models.functions import Lower

from accounts.management.base import count_of
from accounts.models import ApiToken, Email
from backups.exporting import permission_ids, table_rows
from backups.layout import (
    FORMAT,
    MANIFEST,
    VERSION,
    BackupError,
    Digest,
    ProgressWrite,
    Table,
    columns,
    dump_row,
    is_mirrored,
    is_user_reference,
    object_keys,
    object_path,
    tables,
)
from packages.maintenance import Progress
from packages.models import AdminFlag, Project
from packages.search_documents import rebuild_search_documents
from packages.storage import StorageError, is_stored, store_verified

CHUNK = 1024 * 1024
Row = dict[str, object]
# The layout's columns that are not model fields (see backups/layout.py).
EXTRA_COLUMNS = {
    "groups": {"name", "permissions"},
    "users": {"groups", "user_permissions"},
    "api_tokens": {"projects"},
}


@dataclass
class ImportReport:
    rows: dict[str, int] = field(default_factory=dict)
    objects: int = 0
    bytes: int = 0
    stored: int = 0  # objects this run wrote (the others were already there, sound)
    verified: bool = False


def import_index(
    *,
    directory: Path,
    dry_run: bool = False,
    verify: bool = False,
    write: ProgressWrite,
    every: int = 1000,
) -> ImportReport:
    """1. Read the manifest and check every table file against its sha256 and row count.
    2. Refuse a target that has projects (or any project-side row), and export users whose
       username or address is already taken there.
    3. Check every object under files/ (size; with --dry-run, sha256 too). A dry run then
       loads the rows in a transaction it rolls back, and stops.
    4. Store the objects, then load every row in one transaction and move the sequences on;
       with --verify, read it all back (counts, table sha256s, objects) before committing.
    On any failure, delete the objects this run stored."""
    manifest = read_manifest(directory)
    check_target(directory)
    report = ImportReport(rows={name: entry["rows"] for name, entry in manifest["tables"].items()})
    objects = list(_objects(directory))
    report.objects, report.bytes = len(objects), sum(size for _key, _sha, size in objects)
    if dry_run:
        _check_objects(directory, objects, write=write, every=every)
        # Load the rows and roll them back, so references and constraints are checked too.
        with transaction.atomic():
            _load_rows(directory, write=write)
            transaction.set_rollback(True)
        return report
    written: list[str] = []
    try:
        _store_objects(directory, objects, written=written, write=write, every=every)
        report.stored = len(written)
        with transaction.atomic():
            usernames = _load_rows(directory, write=write)
            _reset_sequences()
            if verify:
                verify_import(directory, manifest, usernames=usernames, write=write)
                report.verified = True
        # Derived rows are not in the export: written from what was loaded, as after migrating.
        rebuild_search_documents()
    except BaseException:
        storage = storages["default"]
        for key in written:
            with contextlib.suppress(Exception):  # Best effort; verify_storage lists orphans.
                storage.delete(key)
        raise
    return report


# --- Reading the export ---------------------------------------------------------------------


def read_manifest(directory: Path) -> dict:
    """The manifest, once every table file it lists matches its sha256 and row count."""
    try:
        manifest = json.loads((directory / MANIFEST).read_text())
    except FileNotFoundError as exc:
        raise BackupError(
            f"{directory} has no {MANIFEST}: not an export, or one that did not finish"
        ) from exc
    except (ValueError, OSError) as exc:
        raise BackupError(f"cannot read {directory / MANIFEST}: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{directory / MANIFEST} is not a {FORMAT} manifest")
    if manifest.get("version") != VERSION:
        raise BackupError(
            f"export layout version {manifest.get('version')!r}; this code reads version {VERSION}"
        )
    known = {table.name: table for table in tables()}
    unknown = sorted(set(manifest.get("tables", {})) - set(known))
    if unknown:
        raise BackupError(f"the export has tables this version does not know: {unknown}")
    for name, entry in manifest["tables"].items():
        digest = Digest()
        path = directory / known[name].file
        try:
            with open(path, "rb") as lines:
                for line in lines:
                    digest.add(line)
        except OSError as exc:
            raise BackupError(f"cannot read {path}: {exc}") from exc
        if (digest.rows, digest.sha256.hexdigest()) != (entry["rows"], entry["sha256"]):
            raise BackupError(
                f"{path.name} does not match the manifest ({digest.rows} rows, sha256 "
                f"{digest.sha256.hexdigest()}; expected {entry['rows']} rows, {entry['sha256']})"
            )
    return manifest


def read_rows(directory: Path, table: Table) -> Iterator[Row]:
    path = directory / table.file
    if not path.exists():  # A table the export's version did not have yet: no rows.
        return
    with open(path, "rb") as lines:
        for number, line in enumerate(lines, start=1):
            try:
                row = json.loads(line)
            except ValueError as exc:
                raise BackupError(f"{path.name} line {number}: {exc}") from exc
            if not isinstance(row, dict):
                raise BackupError(f"{path.name} line {number}: not a JSON object")
            yield row


def _table(name: str) -> Table:
    return next(table for table in tables() if table.name == name)


# --- Checking the target --------------------------------------------------------------------


def check_target(directory: Path) -> None:
    """The target must be freshly migrated: no project-side rows at all (their ids are kept),
    and none of the export's usernames or addresses."""
    for table in tables():
        if not table.keeps_ids or table.model is AdminFlag:  # Flags exist after migrate.
            continue
        count = table.model._base_manager.count()
        if count:
            noun = table.model._meta.verbose_name_plural
            raise BackupError(
                f"this database already has {count} {noun}: import_index loads an export into a "
                "freshly migrated database with no projects"
            )
    usernames = [str(row["username"]) for row in read_rows(directory, _table("users"))]
    taken = sorted(
        get_user_model().objects.filter(username__in=usernames).values_list("username", flat=True)
    )
    if taken:
        raise BackupError(
            f"these users already exist in this database: {', '.join(taken)} (users under other "
            "names are left alone; the same name is refused)"
        )
    addresses = {str(row["email"]).lower() for row in read_rows(directory, _table("emails"))}
    used = sorted(
        address
        for address in Email.objects.annotate(lower=Lower("email")).values_list("lower", flat=True)
        if address in addresses
    )
    if used:
        raise BackupError(f"these addresses belong to users of this database: {', '.join(used)}")


def _objects(directory: Path) -> Iterator[tuple[str, str, int]]:
    """(key, sha256, size) of every object the export's files rows name, each found under
    files/ with the size its row records."""
    for row in read_rows(directory, _table("files")):
        for key, sha256, size in object_keys(row):
            path = object_path(directory, key)
            if is_mirrored(row) and not os.path.exists(path):
                continue  # never downloaded from the upstream (see layout.is_mirrored)
            try:
                actual = os.path.getsize(path)
            except OSError as exc:
                raise BackupError(f"the export lacks {key} (files/{key}): {exc}") from exc
            if size is not None and actual != size:
                raise BackupError(f"files/{key} is {actual} bytes; its row says {size}")
            yield key, sha256, actual


def _check_objects(
    directory: Path, objects: list[tuple[str, str, int]], *, write: ProgressWrite, every: int
) -> None:
    progress = Progress(write, "checked", total=len(objects), every=every)
    for key, sha256, _size in objects:
        digest = hashlib.sha256()
        with open(object_path(directory, key), "rb") as handle:
            while chunk := handle.read(CHUNK):
                digest.update(chunk)
        if digest.hexdigest() != sha256:
            raise BackupError(f"files/{key} does not have the sha256 its row records")
        progress.step()


# --- Writing --------------------------------------------------------------------------------


def _store_objects(
    directory: Path,
    objects: list[tuple[str, str, int]],
    *,
    written: list[str],
    write: ProgressWrite,
    every: int,
) -> None:
    progress = Progress(write, "stored", total=len(objects), every=every)
    for key, sha256, size in objects:
        with open(object_path(directory, key), "rb") as body:
            try:
                if store_verified(key=key, body=body, size=size, sha256=sha256):
                    written.append(key)
            except StorageError as exc:
                raise BackupError(
                    f"could not store {key} ({exc}); files/{key} may not have its recorded sha256"
                ) from exc
        progress.step()
    write(f"stored: {len(written)} of {len(objects)} objects written, the rest already there")


def _load_rows(directory: Path, *, write: ProgressWrite) -> set[str]:
    """Every row, table by table in layout order; returns the usernames imported."""
    user_ids: dict[str, int] = {}
    group_ids: dict[str, int] = {}
    project_ids: dict[str, int] = {}
    permissions = permission_ids()
    for table in tables():
        count = 0
        if table.name == "api_tokens":
            project_ids = dict(Project.objects.values_list("normalized_name", "pk"))
        for row in read_rows(directory, table):
            count += 1
            if table.model is Group:
                group, _created = Group.objects.get_or_create(name=row["name"])
                group.permissions.add(*_lookup(permissions, row["permissions"], "permission"))
                group_ids[group.name] = group.pk
                continue
            instance = _instance(table, row, user_ids=user_ids)
            try:
                with transaction.atomic():  # A savepoint, so the error names the row.
                    # raw: values as they are (no auto_now_add), and receivers know it is a load.
                    instance.save_base(raw=True, force_insert=table.model is not AdminFlag)
            except IntegrityError as exc:
                raise BackupError(f"{table.name}: cannot insert {row}: {exc}") from exc
            if table.model is get_user_model():
                user_ids[instance.get_username()] = instance.pk
                instance.groups.set(_lookup(group_ids, row.get("groups", []), "group"))
                instance.user_permissions.set(
                    _lookup(permissions, row.get("user_permissions", []), "permission")
                )
            elif table.model is ApiToken:
                instance.projects.set(_lookup(project_ids, row.get("projects", []), "project"))
        write(f"{table.name}: {count_of(count, 'row')} loaded")
    return set(user_ids)


def _instance(table: Table, row: Row, *, user_ids: dict[str, int]) -> models.Model:
    fields = {column.name: column for column in columns(table)}
    unknown = set(row) - set(fields) - EXTRA_COLUMNS.get(table.name, set())
    if unknown:
        raise BackupError(f"{table.name} has columns this version does not know: {sorted(unknown)}")
    values: dict[str, object] = {}
    for name, model_field in fields.items():
        if name not in row:
            continue  # An older export: the model's default.
        value = row[name]
        if value is None:
            pass
        elif is_user_reference(model_field):
            (value,) = _lookup(user_ids, [value], "user")
        elif not model_field.is_relation:
            value = model_field.to_python(value)
        values[model_field.attname] = value
    return table.model(**values)


def _lookup(ids: dict[str, int], names: object, what: str) -> list[int]:
    if not isinstance(names, list):
        raise BackupError(f"expected a list of {what} names, found {names!r}")
    missing = [name for name in names if name not in ids]
    if missing:
        raise BackupError(f"the export refers to {what}s it does not contain: {missing}")
    return [ids[name] for name in names]


def _reset_sequences() -> None:
    """Rows inserted with their ids leave PostgreSQL's sequences behind (SQLite's
    AUTOINCREMENT follows by itself): the same SQL `manage.py sqlsequencereset` prints."""
    statements = connection.ops.sequence_reset_sql(no_style(), [t.model for t in tables()])
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


# --- Verifying ------------------------------------------------------------------------------


def verify_import(
    directory: Path, manifest: dict, *, usernames: set[str], write: ProgressWrite
) -> None:
    """Read every imported table back as an export would write it and compare its count and
    sha256 with the manifest (users that were already here left out), then check every object
    in storage. Raises BackupError listing every difference."""
    problems = []
    group_names = {str(row["name"]) for row in read_rows(directory, _table("groups"))}
    user_names = dict(get_user_model().objects.values_list("pk", "username"))
    for table in tables():
        empty = {"rows": 0, "sha256": hashlib.sha256().hexdigest()}
        expected = manifest["tables"].get(table.name, empty)
        digest = Digest()
        for row in table_rows(table, user_names=user_names, include=_imported(table, usernames)):
            if table.model is Group and row["name"] not in group_names:
                continue
            digest.add(dump_row(row))
        actual = digest.entry(table)
        if (actual["rows"], actual["sha256"]) != (expected["rows"], expected["sha256"]):
            problems.append(
                f"{table.name}: {actual['rows']} rows, sha256 {actual['sha256']}; the export "
                f"has {expected['rows']} rows, sha256 {expected['sha256']}"
            )
    objects = list(_objects(directory))
    for key, sha256, size in objects:
        if not is_stored(key=key, size=size, sha256=sha256):
            problems.append(f"{key}: not in storage with its size and sha256")
    if problems:
        raise BackupError("verify failed:\n" + "\n".join(problems))
    write(f"verified: {len(manifest['tables'])} tables and {len(objects)} objects match")


def _imported(table: Table, usernames: set[str]):
    """Rows of users who were already in the target are not the export's."""
    if table.model is get_user_model():
        return lambda row: row["username"] in usernames
    if table.keeps_ids or table.model is Group:
        return None
    return lambda row: row["user"] in usernames
