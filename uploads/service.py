"""The upload itself: checks in PyPI's order, then storage and rows, all or nothing.

1. Read-only checks that need no lock (form, permission pre-check, filename, digests,
   archive contents), so a slow archive never holds the database's write lock.
2. Store the file and its PEP 658 metadata under their content-addressed keys.
3. In one transaction, repeat the checks that depend on other writers (project, role, limits,
   one sdist) and insert the rows. A file or filename taken since step 1 breaks a unique
   constraint; the transaction is then tried again with the duplicate and registry checks.
4. If step 3 fails, delete the objects stored in step 2 unless a committed row uses them.
5. Start the jobs the rows enqueued (the project's pages), once each, after the lock.
"""

from __future__ import annotations

import hashlib
import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.files.storage import storages
from django.db import IntegrityError, connection, transaction
from django.db.models import Q

from accounts import ratelimits
from accounts.models import ApiToken
from attestations.provenance import store_provenance
from attestations.verify import VerifiedAttestations
from packages import collaboration, filenames, flags, moderation, permissions
from packages.archives import ArchiveError, check_wheel_metadata, inspect_sdist, inspect_wheel
from packages.events import record_project_event
from packages.filenames import FilenameError
from packages.journal import changes_written_together
from packages.models import File, FilenameRegistry, PackageType, Project, RoleName
from packages.names import is_stdlib_name, normalize_name
from packages.releases import add_file, create_project, create_release, find_project, find_release
from packages.storage import StorageError, StorageFull, StoredObject, store_all_verified
from proxy import guard
from pypi_site.jobs import jobs_held
from pypi_site.locks import advisory_xact_lock, file_lock
from pypi_site.prepared import PreparedObjects, PreparedQuery
from uploads.attestation_upload import check_attestations
from uploads.checks import (
    UploadError,
    UploadForm,
    bad_request,
    check_description_renders,
    release_fields,
)
from uploads.streaming import HashedUpload

MAX_RACE_RETRIES = 3
# Namespace of the per-object advisory locks (PostgreSQL); any constant unused elsewhere.
_OBJECT_LOCKS = 0x6F62

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Uploader:
    user: AbstractBaseUser
    token: ApiToken | None
    user_agent: str = ""
    ip_address: str | None = None


@dataclass(frozen=True)
class UploadResult:
    file: File
    created: bool


def upload_file(
    *, form: UploadForm, content: HashedUpload | None, uploader: Uploader
) -> UploadResult:
    if content is None:
        raise bad_request("Upload payload does not have a file.", reason="no-file")
    project = find_project(form.name)
    if project is not None and project.is_upstream:
        project = None  # the upstream's cached copy: this upload would create a local project
    _check_may_upload(form=form, project=project, uploader=uploader)
    check_description_renders(form.metadata)
    filename = content.name
    _check_file(form=form, content=content)
    path = filenames.storage_path(blake2_256=content.digests["blake2_256"], filename=filename)

    if (identical := _identical_file_or_refuse_taken(filename, content)) is not None:
        return UploadResult(file=identical, created=False)

    metadata = _inspect_archive(form=form, content=content)
    # Check 22, before anything is stored: a refused attestation leaves nothing behind.
    attested = check_attestations(form=form, content=content, token=uploader.token)
    stored = _store_objects(path=path, content=content, metadata=metadata)
    try:
        # The jobs the rows enqueue (the project's pages) start once, after the lock is let go.
        with jobs_held():
            for attempt in range(MAX_RACE_RETRIES):
                try:
                    with _one_writer_at_a_time():
                        return _insert_rows(
                            form=form,
                            content=content,
                            path=path,
                            metadata=metadata,
                            uploader=uploader,
                            checked_project_id=project.pk if project else None,
                            stored=stored,
                            attested=attested,
                            recheck_file=attempt > 0,
                        )
                except IntegrityError:
                    # Another upload created the same project or file first; run the checks
                    # again against what it committed.
                    if attempt == MAX_RACE_RETRIES - 1:
                        raise
    except BaseException:
        _delete_unreferenced(stored)
        raise
    raise AssertionError("unreachable")


@contextmanager
def _one_writer_at_a_time() -> Iterator[None]:
    """Queue embedded-mode uploads on a file lock around their write transaction.

    SQLite allows one writer; the others poll with growing sleeps (up to 100 ms each), so under
    concurrent uploads most of the time went to sleeping. A lock wakes the next upload the
    moment the previous one commits. PostgreSQL needs no such help.
    """
    if connection.vendor != "sqlite":
        yield
        return
    with file_lock(Path(settings.DATA_DIR) / "upload.lock"):
        yield


def _check_may_upload(*, form: UploadForm, project: Project | None, uploader: Uploader) -> None:
    """Check 6 (registration flag, then names: stdlib, prohibited, confusable) and check 7."""
    if project is None:
        if (denial := flags.project_registration_denial()) is not None:
            raise UploadError(403, denial.message, reason="registration-disabled")
        if is_stdlib_name(form.name):
            raise bad_request(
                f"The name {form.name!r} isn't allowed (conflict with Python Standard Library "
                f"module name). See {settings.HELP_URL}#project-name for more information.",
                reason="stdlib-name",
            )
        if (denial := moderation.new_project_name_denial(form.name)) is not None:
            raise bad_request(denial.message, reason="prohibited-name")
        denial = permissions.create_project_denial(user=uploader.user, token=uploader.token)
        if denial is None and (upstream := guard.new_local_project_denial(form.name)):
            raise bad_request(upstream.message, reason="upstream-name")
        if denial is None:
            try:
                ratelimits.check(
                    *_creation_limits(uploader), message="Too many new projects created"
                )
            except ratelimits.RateLimited as exc:
                raise UploadError(
                    429,
                    exc.message,
                    headers={"Retry-After": str(exc.retry_after)},
                    reason="rate-limited",
                ) from None
    else:
        denial = permissions.upload_denial(
            user=uploader.user, project=project, token=uploader.token
        )
        if denial is None and (quarantined := moderation.quarantine_denial(project)):
            raise UploadError(403, quarantined.message, reason="project-quarantined")
    if denial is not None:
        raise UploadError(403, denial.message, reason="permission-denied")


def _check_file(*, form: UploadForm, content: HashedUpload) -> None:
    """Checks 11 to 14: filename characters and extension, MIME type, digests."""
    filename = content.name
    try:
        filenames.check_characters(filename)
        filenames.check_extension(filename, filetype=form.filetype)
    except FilenameError as exc:
        raise bad_request(str(exc), reason="invalid-filename") from None
    # uv sends no type for the file part; RFC 7578 makes that text/plain, which is fine.
    if (content.content_type or "text/plain").startswith("image/"):
        raise bad_request("Invalid distribution file.", reason="invalid-distribution")
    for key, supplied in form.digests.items():
        if content.digests[key] != supplied:
            raise bad_request(
                "The digest supplied does not match a digest calculated from the uploaded file.",
                reason="digest-mismatch",
            )


def _existing_file(*, filename: str, blake2_256: str) -> File | None:
    """Check 15 looks for the same filename or the same bytes; the filename match wins. A
    deleted file counts (its row stays for the point-in-time view): its bytes are not taken
    again under any name."""
    matches = _FILES_BY_NAME_OR_DIGEST.all(filename=filename, blake2_256=blake2_256)
    return min(matches, key=lambda f: f.filename != filename, default=None)


# Each upload asks these; compiled once (pypi_site/prepared.py).
_FILES_BY_NAME_OR_DIGEST = PreparedObjects(
    File,
    lambda filename, blake2_256: File.all_objects.filter(
        Q(filename=filename) | Q(blake2_256_digest=blake2_256)
    )[:2],
    filename=str,
    blake2_256=str,
)
_REGISTERED_NAME = PreparedQuery(
    lambda filename: FilenameRegistry.objects.filter(filename=filename).values_list("pk")[:1],
    filename=str,
)
_PROJECT_LOCKED = PreparedObjects(
    Project,
    lambda name: Project.objects.select_for_update().filter(normalized_name=name)[:1],
    name=str,
)


def _identical_file_or_refuse_taken(filename: str, content: HashedUpload) -> File | None:
    """Checks 15 and 16: the identical file already uploaded (the upload succeeds with it), or
    a refusal when the name or the bytes are taken; None when both are free. A name in the
    registry with no file row was deleted for good, unless a concurrent upload committed its
    file between the two lookups: the file is looked for again, so that upload's file is
    what the refusal names."""
    blake2_256 = content.digests["blake2_256"]
    existing = _existing_file(filename=filename, blake2_256=blake2_256)
    if existing is None and _REGISTERED_NAME.first(filename=filename) is not None:
        existing = _existing_file(filename=filename, blake2_256=blake2_256)
        if existing is None:
            _refuse_reused_filename()
    if existing is None:
        return None
    return _identical_or_refuse(existing, filename, content)


def _refuse_reused_filename() -> None:
    """Check 16: a name in the registry that no file row has any more was deleted for good."""
    raise bad_request(
        "This filename was previously used by a file that has since been deleted. Use a "
        f"different version. See {settings.HELP_URL}#file-name-reuse for more information.",
        reason="filename-reused",
    )


def _identical_or_refuse(existing: File, filename: str, content: HashedUpload) -> File:
    """Check 15: an identical re-upload succeeds; anything else under a used name does not."""
    if existing.deleted_at is not None and existing.filename == filename:
        raise bad_request(
            "This filename was previously used by a file that has since been deleted. Use a "
            f"different version. See {settings.HELP_URL}#file-name-reuse for more information.",
            reason="filename-reused",
        )
    if (
        existing.filename == filename
        and existing.sha256_digest == content.digests["sha256"]
        and existing.blake2_256_digest == content.digests["blake2_256"]
    ):
        return existing
    raise bad_request(
        f"File already exists ({existing.filename!r}, with blake2_256 hash "
        f"{existing.blake2_256_digest!r}). "
        f"See {settings.HELP_URL}#file-name-reuse for more information.",
        reason="file-exists",
    )


def _inspect_archive(*, form: UploadForm, content: HashedUpload) -> bytes | None:
    """Checks 19 to 21; returns a wheel's METADATA for PEP 658."""
    filename, path = content.name, content.temporary_file_path()
    try:
        if form.filetype == PackageType.WHEEL:
            filenames.check_wheel_filename(filename, project_name=form.name, version=form.version)
            metadata = inspect_wheel(path, filename=filename)
            check_wheel_metadata(metadata, filename=filename, name=form.name, version=form.version)
            return metadata
        inspect_sdist(path, filename=filename, name=form.name, version=form.version)
        filenames.check_sdist_filename(filename, project_name=form.name, version=form.version)
        return None
    except (FilenameError, ArchiveError) as exc:
        raise bad_request(str(exc), reason="invalid-archive") from None


def _objects(*, path: str, content: HashedUpload, metadata: bytes | None) -> list[StoredObject]:
    """The file (its temporary file, which local storage links into place) and its PEP 658
    metadata."""
    objects = [
        StoredObject(
            key=path,
            body=content,
            size=content.size,
            sha256=content.digests["sha256"],
            path=content.temporary_file_path(),
        )
    ]
    if metadata is not None:
        digest = hashlib.sha256(metadata).hexdigest()
        objects.append(
            StoredObject(
                key=f"{path}.metadata", body=io.BytesIO(metadata), size=len(metadata), sha256=digest
            )
        )
    return objects


def _store_objects(*, path: str, content: HashedUpload, metadata: bytes | None) -> list[str]:
    """Store the file (and metadata) under content-addressed keys; returns the keys this call
    wrote, so a failure removes only its own objects. A storage that cannot take the bytes
    refuses the upload with 507 (full) or 503 (anything else), leaving nothing stored."""
    try:
        return store_all_verified(_objects(path=path, content=content, metadata=metadata))
    except StorageError as exc:
        raise _storage_refusal(exc) from exc


def _storage_refusal(exc: StorageError) -> UploadError:
    # The uploader sees a short message; operators need the cause.
    logger.error("upload refused, storage failed: %s", exc, exc_info=exc.__cause__ or exc)
    if isinstance(exc, StorageFull):
        return UploadError(
            507,
            "Insufficient Storage: the index has no room to store this file. Try again later.",
            reason="storage-full",
        )
    return UploadError(
        503,
        "Storage unavailable: the index could not store this file. Try again later.",
        reason="storage-unavailable",
    )


def _lock_objects(keys: list[str]) -> None:
    """Serialize, per key, "does a row still need this object?" with "a row now uses it".

    Two identical uploads share one object: if the one that wrote it fails after the other
    found and reused it, the failing one must not delete it from under the other. On SQLite the
    caller holds `_one_writer_at_a_time`; PostgreSQL gets a transaction advisory lock per key
    (the two-int form, a key space apart from the journal's lock)."""
    if connection.vendor != "postgresql":
        return
    for path in sorted({key.removesuffix(".metadata") for key in keys}):
        advisory_xact_lock(_OBJECT_LOCKS, path)


def _claim_objects(
    *, path: str, content: HashedUpload, metadata: bytes | None, stored: list[str]
) -> None:
    """In the row-inserting transaction: the objects the new row points to are there, whole in
    size, or written again (a failed identical upload may have removed the copy this one
    reused). Keys written here join `stored`, so a later failure removes them too."""
    objects = _objects(path=path, content=content, metadata=metadata)
    _lock_objects([obj.key for obj in objects])
    storage = storages["default"]
    missing = [
        obj
        for obj in objects
        if not (storage.exists(obj.key) and storage.size(obj.key) == obj.size)
    ]
    if not missing:
        return
    try:
        stored.extend(store_all_verified(missing))
    except StorageError as exc:
        raise _storage_refusal(exc) from exc


def _delete_unreferenced(keys: list[str]) -> None:
    """Remove objects this upload wrote that no committed row uses (see `_lock_objects`)."""
    if not keys:
        return
    storage = storages["default"]
    with _one_writer_at_a_time(), transaction.atomic():
        _lock_objects(keys)
        in_use = set(
            File.all_objects.filter(
                path__in=[k.removesuffix(".metadata") for k in keys]
            ).values_list("path", flat=True)
        )
        for key in keys:
            if key.removesuffix(".metadata") not in in_use:
                storage.delete(key)


@transaction.atomic
@changes_written_together()  # The upload's journal rows, in one INSERT at the end.
def _insert_rows(
    *,
    form: UploadForm,
    content: HashedUpload,
    path: str,
    metadata: bytes | None,
    uploader: Uploader,
    checked_project_id: int | None,
    stored: list[str],
    attested: VerifiedAttestations | None = None,
    recheck_file: bool = True,
) -> UploadResult:
    """The locked phase: keep it short, since on SQLite every other upload waits for it."""
    filename, size = content.name, content.size
    # Lock the project row: limits, release ordering and totals are per project.
    project = _PROJECT_LOCKED.first(name=normalize_name(form.name))
    if project is not None and project.is_upstream:
        # Never merged: the cached upstream copy goes if staff allowed a local project here.
        if (denial := guard.make_way_for_local(project)) is not None:
            raise bad_request(denial.message, reason="upstream-name")
        project = None
    if project is None:
        project = create_project(name=form.name, owner=uploader.user)
        _record_event(project, collaboration.EventTag.PROJECT_CREATE, uploader)
        _record_event(
            project, collaboration.EventTag.ROLE_ADD, uploader, role_name=RoleName.OWNER.value
        )
        transaction.on_commit(lambda: ratelimits.hit(*_creation_limits(uploader)))
    else:
        if project.pk != checked_project_id:
            # Created by a concurrent upload since the unlocked checks ran.
            _check_may_upload(form=form, project=project, uploader=uploader)
        elif (denial := moderation.quarantine_denial(project)) is not None:
            # Quarantined while this upload was being checked; the locked row is the truth.
            raise UploadError(403, denial.message, reason="project-quarantined")
        elif project.is_archived:
            # Archived while this upload was being checked: permissions now refuse it.
            _check_may_upload(form=form, project=project, uploader=uploader)
        if project.name != form.name:
            # Found by its normalized name, so this is a new spelling of it: the display name
            # follows the latest upload's metadata, as on PyPI.
            Project.objects.filter(pk=project.pk).update(name=form.name)
            project.name = form.name

    if size > project.effective_upload_limit:
        raise bad_request(
            f"File too large. Limit for project {project.name!r} is "
            f"{_megabytes(project.effective_upload_limit)}. "
            f"See {settings.HELP_URL}#file-size-limit for more information.",
            reason="file-too-large",
        )
    if project.total_size + size > project.effective_total_size_limit:
        raise bad_request(
            f"Project size too large. Limit for project {project.name!r} total size is "
            f"{_megabytes(project.effective_total_size_limit)}. "
            f"See {settings.HELP_URL}#project-size-limit for more information.",
            reason="project-too-large",
        )
    # The first attempt relies on the checks before the lock: a file or name taken since then
    # breaks a unique constraint (File.filename, its digests, FilenameRegistry), and the retry,
    # here, answers as the checks would have.
    if recheck_file and (identical := _identical_file_or_refuse_taken(filename, content)):
        return UploadResult(file=identical, created=False)

    # What the upload uses of an existing release: its 40-odd columns cost more to select
    # than the lookup itself.
    release = find_release(
        project=project, version=form.version, fields=("id", "project_id", "version")
    )
    if release is None:
        release = create_release(
            project=project,
            metadata=release_fields(form.metadata),
            user=uploader.user,
            uploaded_via=uploader.user_agent,
        )
    elif (
        form.filetype == PackageType.SDIST
        and release.files.filter(packagetype=PackageType.SDIST).exists()
    ):
        raise bad_request("Only one sdist may be uploaded per release.", reason="duplicate-sdist")

    _claim_objects(path=path, content=content, metadata=metadata, stored=stored)
    file = add_file(
        release=release,
        user=uploader.user,
        filename=filename,
        path=path,
        size=size,
        md5_digest=content.digests["md5"],
        sha256_digest=content.digests["sha256"],
        blake2_256_digest=content.digests["blake2_256"],
        packagetype=form.filetype,
        python_version=form.pyversion,
        comment_text=form.comment,
        uploaded_via=uploader.user_agent[:300],
        metadata_sha256=hashlib.sha256(metadata).hexdigest() if metadata is not None else "",
    )
    if attested is not None:
        store_provenance(file=file, verified=attested)
    _record_event(
        project,
        collaboration.EventTag.FILE_ADD,
        uploader,
        filename=filename,
        version=release.version,
        token=uploader.token.identifier if uploader.token else None,
        uploaded_via=uploader.user_agent[:300],
    )
    return UploadResult(file=file, created=True)


def _creation_limits(uploader: Uploader) -> tuple[tuple[str, object], ...]:
    return (("project_create_user", uploader.user.pk), ("project_create_ip", uploader.ip_address))


def _record_event(project: Project, tag: str, uploader: Uploader, **additional: object) -> None:
    record_project_event(
        project=project,
        tag=tag,
        user=uploader.user,
        ip_address=uploader.ip_address,
        **additional,
    )


def _megabytes(limit: int) -> str:
    """PyPI states limits in MB or GB; tiny limits (set by staff or tests) in bytes."""
    if limit >= 1024**3 and limit % 1024**3 == 0:
        return f"{limit // 1024**3} GB"
    if limit >= 1024**2:
        return f"{limit // 1024**2} MB"
    return f"{limit} bytes"
