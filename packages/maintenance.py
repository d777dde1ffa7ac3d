"""Keeping the data sound: stored objects against their rows, PEP 658 metadata, project sizes.

Each function handles one row and is safe to run again; the commands in
packages/management/commands/ loop over rows and the jobs in packages/jobs.py call these by id.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta

from django.core.files.storage import Storage, storages
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from packages.digests import digests_of_stream
from packages.journal import record_change
from packages.models import File, PackageType, Project
from packages.storage import DOCUMENTS_PREFIX, PAGES_PREFIX, is_stored, store_verified

CHUNK = 1024 * 1024


# --- Sizes ----------------------------------------------------------------------------------


def project_size(project_id: int) -> int:
    return File.objects.filter(release__project_id=project_id).aggregate(s=Sum("size"))["s"] or 0


@transaction.atomic
def recompute_size(project_id: int, *, dry_run: bool = False) -> tuple[int, int] | None:
    """Set a project's `total_size` to the sum of its files (under the project's row lock, which
    uploads also take). Returns (recorded, actual), or None if the project is gone."""
    project = Project.objects.select_for_update().filter(pk=project_id).first()
    if project is None:
        return None
    actual = project_size(project_id)
    if actual != project.total_size and not dry_run:
        Project.objects.filter(pk=project_id).update(total_size=actual)
    return project.total_size, actual


def size_mismatches() -> Iterator[tuple[int, int, int]]:
    """(project id, recorded, actual) for every project whose total is wrong: one grouped query
    over the files, streamed, instead of one query a project."""
    actual = dict(
        File.objects.order_by()
        .values("release__project_id")
        .annotate(total=Sum("size"))
        .values_list("release__project_id", "total")
    )
    for pk, recorded in Project.objects.values_list("pk", "total_size").iterator(chunk_size=5000):
        if recorded != actual.get(pk, 0):
            yield pk, recorded, actual.get(pk, 0)


# --- Digests --------------------------------------------------------------------------------


def digests_of(storage: Storage, key: str) -> tuple[int, dict[str, str]]:
    """Size and md5/sha256/blake2b-256 of a stored object, read in chunks."""
    with storage.open(key, "rb") as handle:
        digests = digests_of_stream(handle)
    return digests.size, digests.hexdigests()


# --- Verification ---------------------------------------------------------------------------


@dataclass
class FileReport:
    file_id: int
    filename: str
    problems: list[str] = field(default_factory=list)
    # True when the distribution itself is sound and only its .metadata is missing or wrong.
    metadata_fixable: bool = False


def verify_file(file: File, *, storage: Storage, hashes: bool = True) -> FileReport:
    """Check that the distribution and its PEP 658 metadata are stored as recorded. A file
    mirrored from upstream (proxy/) is stored only once downloaded: absent is not a problem."""
    report = FileReport(file_id=file.pk, filename=file.filename)
    file_ok = False
    mirrored = bool(file.upstream_url)
    if not storage.exists(file.path):
        if not mirrored:
            report.problems.append(f"missing {file.path}")
    else:
        size = storage.size(file.path)
        if size != file.size:
            report.problems.append(f"size {size} != recorded {file.size}")
        elif hashes:
            _size, digests = digests_of(storage, file.path)
            recorded = {
                "md5": file.md5_digest,
                "sha256": file.sha256_digest,
                "blake2_256": file.blake2_256_digest,
            }
            wrong = [name for name, value in recorded.items() if value and digests[name] != value]
            if wrong:
                report.problems.append(f"{', '.join(wrong)} digest mismatch")
            else:
                file_ok = True
        else:
            file_ok = True
    if file.metadata_sha256:
        key = file.metadata_path
        if not storage.exists(key):
            if not mirrored:
                report.problems.append(f"missing {key}")
                report.metadata_fixable = file_ok
        elif hashes:
            with storage.open(key, "rb") as handle:
                if hashlib.sha256(handle.read()).hexdigest() != file.metadata_sha256:
                    report.problems.append("metadata sha256 mismatch")
                    report.metadata_fixable = file_ok
    elif file.packagetype == PackageType.WHEEL and not mirrored:
        report.problems.append("wheel without PEP 658 metadata")
        report.metadata_fixable = file_ok
    return report


def storage_keys(storage: Storage, directory: str = "") -> Iterator[str]:
    """Every distribution key under `directory`, depth first (works for local and S3 storage
    alike). The static simple pages under PAGES_PREFIX and the stored documents under
    DOCUMENTS_PREFIX are no distributions: skipped."""
    directories, files = storage.listdir(directory)
    prefix = f"{directory}/" if directory else ""
    for name in sorted(files):
        yield f"{prefix}{name}"
    for name in sorted(directories):
        if not directory and name in (PAGES_PREFIX, DOCUMENTS_PREFIX):
            continue
        yield from storage_keys(storage, f"{prefix}{name}")


def orphan_keys(
    storage: Storage, *, min_age: timedelta = timedelta(hours=1), batch: int = 1000
) -> Iterator[str]:
    """Stored objects no File row refers to, checked against the database a batch at a time.

    An upload stores its objects before it inserts its rows (uploads/service.py), so a young
    object without a row may be an upload in flight: only objects older than `min_age` count.
    """
    cutoff = timezone.now() - min_age

    def unreferenced(keys: list[str]) -> Iterator[str]:
        paths = {k.removesuffix(".metadata") for k in keys}
        # Deleted files keep their bytes for the point-in-time view until purged.
        known = set(File.all_objects.filter(path__in=paths).values_list("path", flat=True))
        for key in keys:
            if key.removesuffix(".metadata") not in known:
                try:
                    modified = storage.get_modified_time(key)
                except (NotImplementedError, OSError):
                    modified = None
                if modified is None or modified <= cutoff:
                    yield key

    pending: list[str] = []
    for key in storage_keys(storage):
        pending.append(key)
        if len(pending) >= batch:
            yield from unreferenced(pending)
            pending = []
    if pending:
        yield from unreferenced(pending)


# --- PEP 658 metadata -----------------------------------------------------------------------


def read_wheel_metadata(file: File, *, storage: Storage) -> bytes:
    """The METADATA of a stored wheel, read by the same code that checked it at upload, so a
    backfilled `.metadata` matches what an upload would have stored."""
    from packages.archives import inspect_wheel

    with tempfile.NamedTemporaryFile(suffix=".whl") as local:
        with storage.open(file.path, "rb") as remote:
            shutil.copyfileobj(remote, local, CHUNK)
        local.flush()
        return inspect_wheel(local.name, filename=file.filename)


@transaction.atomic
def extract_metadata(file_id: int, *, dry_run: bool = False) -> str:
    """Store a wheel's PEP 658 `.metadata` and record its sha256 if either is missing or wrong.
    Returns what happened: "ok", "fixed", "would fix", "not a wheel", "gone"."""
    file = File.all_objects.select_related("release__project").filter(pk=file_id).first()
    if file is None:
        return "gone"
    if file.packagetype != PackageType.WHEEL:
        return "not a wheel"
    storage = storages["default"]
    metadata = read_wheel_metadata(file, storage=storage)
    digest = hashlib.sha256(metadata).hexdigest()
    key = file.metadata_path
    stored_ok = is_stored(key=key, size=len(metadata), sha256=digest, storage=storage)
    if stored_ok and file.metadata_sha256 == digest:
        return "ok"
    if dry_run:
        return "would fix"
    if not stored_ok:
        # Replaces a wrong object atomically: the key is never missing or half-written.
        store_verified(key=key, body=io.BytesIO(metadata), size=len(metadata), sha256=digest)
    if file.metadata_sha256 != digest:
        File.objects.filter(pk=file.pk).update(metadata_sha256=digest)
        # The simple API publishes the digest; a new serial re-renders the project's pages.
        record_change(
            project=file.release.project,
            version=file.release.version,
            action=f"update metadata of file {file.filename}",
        )
    return "fixed"


# --- Progress for long commands -------------------------------------------------------------


class Progress:
    """Writes "label: n/total" every `every` items, so a long run shows it is moving."""

    def __init__(self, write, label: str, *, total: int | None = None, every: int = 1000) -> None:
        self.write, self.label, self.total, self.every = write, label, total, every
        self.count = 0

    def step(self, detail: str = "") -> None:
        self.count += 1
        if self.count % self.every == 0:
            of = f"/{self.total}" if self.total is not None else ""
            self.write(f"{self.label}: {self.count}{of}{f' ({detail})' if detail else ''}")
