"""`export_index`: the whole index (rows and bytes) to a directory in the layout of
backups/layout.py, read in one snapshot of the database."""

from __future__ import annotations

import hashlib
import json
import os
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.files.storage import Storage, storages
from django.db import connection, transaction
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone

from accounts.management.base import count_of
from accounts.models import ApiToken
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
from packages.models import File

CHUNK = 1024 * 1024
Row = dict[str, object]


def export_index(*, directory: Path, write: ProgressWrite, every: int = 1000) -> dict:
    """1. Refuse a directory that is not empty (an export never mixes with another).
    2. In one read-only snapshot: each table to NAME.jsonl, then every file's objects copied
       from storage to files/KEY, each checked against its row's size and sha256.
    3. manifest.json last, with the counts and the sha256 of every table file.
    Returns the manifest."""
    if directory.exists() and any(directory.iterdir()):
        raise BackupError(f"{directory} is not empty: export into a new directory")
    directory.mkdir(parents=True, exist_ok=True)
    manifest: dict = {
        "format": FORMAT,
        "version": VERSION,
        "created": timezone.now().isoformat(),
        "source": {
            "database": connection.vendor,
            "storage": type(storages["default"]).__name__,
        },
        "tables": {},
    }
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if outermost:  # Inside a caller's transaction, it sees what that one sees.
            _snapshot()
        manifest["migrations"] = applied_migrations()
        user_names = dict(get_user_model().objects.values_list("pk", "username"))
        for table in tables():
            digest = Digest()
            with open(directory / table.file, "wb") as out:
                for row in table_rows(table, user_names=user_names):
                    line = dump_row(row)
                    out.write(line)
                    digest.add(line)
            manifest["tables"][table.name] = digest.entry(table)
            write(f"{table.name}: {count_of(digest.rows, 'row')}")
        manifest["objects"] = _copy_objects(directory, write=write, every=every)
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def _snapshot() -> None:
    """Every query of the export sees the same moment. SQLite (WAL) gives a read transaction
    one snapshot from its first read; PostgreSQL needs REPEATABLE READ for that."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")


def applied_migrations() -> dict[str, str]:
    latest: dict[str, str] = {}
    for app, name in MigrationRecorder(connection).applied_migrations():
        latest[app] = max(latest.get(app, ""), name)
    return dict(sorted(latest.items()))


# --- Rows -----------------------------------------------------------------------------------


def table_rows(
    table: Table,
    *,
    user_names: dict[int, str],
    include: Callable[[Row], bool] | None = None,
) -> Iterator[Row]:
    """A table's rows as the layout writes them, ordered by id; `include` keeps some only
    (verifying an import beside users that were already there)."""
    if table.model is Group:
        rows: Iterator[Row] = _group_rows()
    else:
        rows = _model_rows(table, user_names=user_names)
    for row in rows:
        if include is None or include(row):
            yield row


def _model_rows(table: Table, *, user_names: dict[int, str]) -> Iterator[Row]:
    fields = columns(table)
    extras = _extra_columns(table)
    # The base manager: rows deleted by owners (kept for the point-in-time view) are exported.
    query = table.model._base_manager.order_by("pk").values_list(
        "pk", *(field.attname for field in fields)
    )
    for pk, *values in query.iterator(chunk_size=2000):
        row: Row = {}
        for field, value in zip(fields, values, strict=True):
            if is_user_reference(field) and value is not None:
                value = user_names[value]
            row[field.name] = value
        for name, by_pk in extras.items():
            row[name] = sorted(by_pk.get(pk, ()))
        yield row


def _extra_columns(table: Table) -> dict[str, dict[object, list[str]]]:
    """The many-to-many columns (layout docstring), each as {row id: values}."""
    if table.model is get_user_model():
        memberships = get_user_model().groups.through.objects
        permissions = get_user_model().user_permissions.through.objects
        return {
            "groups": _grouped(memberships.values_list("user", "group__name")),
            "user_permissions": _grouped(
                (user_id, f"{app_label}.{codename}")
                for user_id, app_label, codename in (
                    permissions.values_list(
                        "user",
                        "permission__content_type__app_label",
                        "permission__codename",
                    )
                )
            ),
        }
    if table.model is ApiToken:
        return {
            "projects": _grouped(
                ApiToken.projects.through.objects.values_list(
                    "apitoken", "project__normalized_name"
                )
            )
        }
    return {}


def _grouped(pairs) -> dict[object, list[str]]:
    grouped: dict[object, list[str]] = defaultdict(list)
    for key, value in pairs:
        grouped[key].append(value)
    return grouped


def _group_rows() -> Iterator[Row]:
    permissions = _grouped(
        (group_id, f"{app_label}.{codename}")
        for group_id, app_label, codename in Group.permissions.through.objects.values_list(
            "group", "permission__content_type__app_label", "permission__codename"
        )
    )
    for pk, name in Group.objects.order_by("pk").values_list("pk", "name"):
        yield {"name": name, "permissions": sorted(permissions.get(pk, ()))}


def permission_ids() -> dict[str, int]:
    """Every permission by "app_label.codename", the layout's name for it."""
    return {
        f"{app_label}.{codename}": pk
        for pk, app_label, codename in Permission.objects.values_list(
            "pk", "content_type__app_label", "codename"
        )
    }


# --- Bytes ----------------------------------------------------------------------------------


def _copy_objects(directory: Path, *, write: ProgressWrite, every: int) -> dict[str, int]:
    storage = storages["default"]
    files = File.all_objects.order_by("pk").values(
        "path", "size", "sha256_digest", "metadata_sha256", "upstream_url"
    )
    progress = Progress(write, "files", total=files.count(), every=every)
    count = total = 0
    for row in files.iterator(chunk_size=2000):
        for key, sha256, size in object_keys(row):
            if is_mirrored(row) and not storage.exists(key):
                continue  # an upstream file never downloaded: fetched again when asked for
            total += _copy_object(storage, key=key, to=object_path(directory, key), sha256=sha256)
            count += 1
            if size is not None and os.path.getsize(object_path(directory, key)) != size:
                raise BackupError(f"{key} in storage is not {size} bytes long: see verify_storage")
        progress.step()
    write(f"files: {progress.count} files, {count} objects, {total} bytes")
    return {"count": count, "bytes": total}


def _copy_object(storage: Storage, *, key: str, to: Path, sha256: str) -> int:
    """Copy one object, hashing it on the way; a missing or different object stops the export
    (a backup that silently lacks bytes is found out only when it is needed)."""
    to.parent.mkdir(parents=True, exist_ok=True)
    digest, size = hashlib.sha256(), 0
    try:
        with storage.open(key, "rb") as source, open(to, "xb") as out:
            while chunk := source.read(CHUNK):
                out.write(chunk)
                digest.update(chunk)
                size += len(chunk)
    except FileExistsError as exc:
        raise BackupError(f"two files share the storage key {key}") from exc
    except Exception as exc:  # Any storage: local files or S3 errors.
        raise BackupError(f"could not read {key} from storage ({exc}): see verify_storage") from exc
    if digest.hexdigest() != sha256:
        raise BackupError(f"{key} in storage does not have its recorded sha256: see verify_storage")
    return size
