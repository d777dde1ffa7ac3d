"""Writing distribution bytes: the one way anything is put into the default storage.

A key is content-addressed, so once an object is there it is served as is for ever; a key must
never show a half-written object, and an object already at a key is trusted only once its size
and sha256 check out (a full disk used to leave a truncated file that the next identical upload
then published).

- Local files (FileSystemStorage): the bytes go to a temporary file in the key's own folder
  (same filesystem), are fsynced, and appear at the key by `os.link` (which refuses to clobber a
  concurrent writer's object) or, over an object that does not verify, by `os.replace`. An
  upload already streamed to a temporary file on the same filesystem (`StoredObject.path`) is
  fsynced and linked as it is, with no copy. Objects stored together (a wheel and its
  metadata) share one fsync of their folder, after every name is in place.
- S3 (django-storages S3Storage): a PUT, single or multipart, becomes visible only once complete.
  The object carries its sha256 as user metadata; after the PUT a HEAD checks the size and it.

Static simple pages (packages/static_pages.py) are published here too, as page sets: see the
section at the end; and large stored documents (packages/documents.py) under DOCUMENTS_PREFIX.

A failed write raises `StorageFull` (no space or quota) or `StorageUnavailable` (any other
storage error), and leaves nothing behind at the key or beside it.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import hashlib
import io
import os
import posixpath
import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import IO

from django.core.files.storage import FileSystemStorage, Storage, storages

CHUNK = 1024 * 1024
# S3 user metadata (x-amz-meta-sha256), set at write time so a later HEAD can check an object.
SHA256_METADATA = "sha256"


class StorageError(Exception):
    """A write did not complete; nothing of it is left in storage."""


class StorageFull(StorageError):
    """The storage has no room (ENOSPC) or the quota is used up (EDQUOT)."""


class StorageUnavailable(StorageError):
    """Any other failure to write or check an object."""


@dataclass(frozen=True)
class StoredObject:
    """What one key must hold: `body`, `size` bytes with this sha256. `path`, when set, is a
    local file holding exactly those bytes, written by this process and hashed as it was
    written (an upload's temporary file): local storage may link it into place instead of
    copying it, so nothing may write to it afterwards."""

    key: str
    body: IO[bytes]
    size: int
    sha256: str
    path: str | None = None


def store_verified(
    *, key: str, body: IO[bytes], size: int, sha256: str, path: str | None = None
) -> bool:
    """Make `key` hold exactly `body` (`size` bytes with this sha256).

    Returns True if this call wrote the object, False if a sound one was already there (so a
    caller that fails later removes only what it wrote).
    """
    obj = StoredObject(key=key, body=body, size=size, sha256=sha256, path=path)
    return bool(store_all_verified([obj]))


def store_all_verified(objects: list[StoredObject]) -> list[str]:
    """Store each object as `store_verified` does; returns the keys this call wrote. On a
    failure the objects it already wrote are deleted again before the error is raised."""
    storage = storages["default"]
    written: list[str] = []
    try:
        if isinstance(storage, FileSystemStorage):
            _store_all_local(storage, objects, written=written)
        else:
            # The settings allow only these two: local files, or S3Storage on any S3 endpoint.
            for obj in objects:
                if _store_s3(storage, key=obj.key, body=obj.body, size=obj.size, sha256=obj.sha256):
                    written.append(obj.key)
    except BaseException as exc:
        for key in written:
            with contextlib.suppress(Exception):
                storage.delete(key)
        if isinstance(exc, StorageError):
            raise
        if isinstance(exc, OSError):
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise StorageFull(f"no space left to store {_keys(objects)}") from exc
            raise StorageUnavailable(f"could not store {_keys(objects)}: {exc}") from exc
        if isinstance(exc, Exception) and _is_boto_error(exc):
            raise StorageUnavailable(f"could not store {_keys(objects)}: {exc}") from exc
        raise
    return written


def _keys(objects: list[StoredObject]) -> str:
    return ", ".join(obj.key for obj in objects)


def is_stored(*, key: str, size: int, sha256: str, storage: Storage | None = None) -> bool:
    """Whether `key` holds an object of this size and sha256 (reads a local file in full; on S3
    trusts the sha256 metadata written by `store_verified`, else reads the object)."""
    storage = storage or storages["default"]
    if isinstance(storage, FileSystemStorage):
        return _local_matches(storage.path(key), size=size, sha256=sha256)
    return _s3_matches(storage, key=key, size=size, sha256=sha256)


# --- Local files ----------------------------------------------------------------------------


def _store_all_local(
    storage: FileSystemStorage, objects: list[StoredObject], *, written: list[str]
) -> None:
    """1. For each object whose key does not already hold a sound one, the bytes under a
       temporary name: the caller's own file (`obj.path`, on the same filesystem), or else a
       temporary file written in the key's folder through the storage (`xb`: never someone
       else's), hashing what is written.
    2. fsync those files, concurrently: each fsync waits for a journal commit, and issued
       together they share one (a wheel and its metadata stored in a third of the time).
    3. Link each to its key; if a concurrent writer linked first, keep theirs when it is
       sound, else replace it.
    4. fsync each folder that gained a name, once: only then are the new names durable, and
       only then does this return. Temporary names of ours go in every case.
    """
    prepared: list[_Prepared] = []
    try:
        for obj in objects:
            if (item := _prepare_local(storage, obj)) is not None:
                prepared.append(item)
        _fsync_files([item.source for item in prepared])
        directories: list[str] = []
        for item in prepared:
            if _put_in_place(storage, item):
                written.append(item.obj.key)
                if item.directory not in directories:
                    directories.append(item.directory)
        for directory in directories:
            _fsync_directory(directory)
    finally:
        for item in prepared:
            if item.source != item.obj.path:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(item.source)


@dataclass(frozen=True)
class _Prepared:
    obj: StoredObject
    final: str
    directory: str
    source: str  # The complete file to fsync and link: the caller's, or our temporary one.


def _prepare_local(storage: FileSystemStorage, obj: StoredObject) -> _Prepared | None:
    final = storage.path(obj.key)
    if _local_matches(final, size=obj.size, sha256=obj.sha256):
        return None
    directory = os.path.dirname(final)
    _make_directory(storage, directory)
    if obj.path is not None:
        stat = os.stat(obj.path)
        if stat.st_size != obj.size:
            raise StorageUnavailable(
                f"the bytes for {obj.key} changed while being stored ({stat.st_size} bytes)"
            )
        if stat.st_dev == os.stat(directory).st_dev:
            # Linked, the file is the stored object itself: its mode is the object's.
            mode = storage.file_permissions_mode
            os.chmod(obj.path, 0o644 if mode is None else mode)
            return _Prepared(obj=obj, final=final, directory=directory, source=obj.path)
    return _Prepared(
        obj=obj, final=final, directory=directory, source=_write_temporary(storage, obj)
    )


def _write_temporary(storage: FileSystemStorage, obj: StoredObject) -> str:
    """A copy of `obj.body` in a new temporary file in its key's folder, checked against the
    size and sha256 it must have; the caller fsyncs it and removes its name."""
    temp_key = posixpath.join(posixpath.dirname(obj.key), f".tmp-{secrets.token_hex(8)}")
    temp = storage.path(temp_key)
    try:
        written, digest = 0, hashlib.sha256()
        with storage.open(temp_key, "xb") as handle:
            obj.body.seek(0)
            while chunk := obj.body.read(CHUNK):
                handle.write(chunk)
                written += len(chunk)
                digest.update(chunk)
        if (written, digest.hexdigest()) != (obj.size, obj.sha256):
            raise StorageUnavailable(
                f"the bytes for {obj.key} changed while being stored "
                f"({written} bytes, sha256 {digest.hexdigest()})"
            )
        if storage.file_permissions_mode is not None:
            os.chmod(temp, storage.file_permissions_mode)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    return temp


def _fsync_files(paths: list[str]) -> None:
    """fsync every file, all at once (the first in this thread); the first error is raised."""
    if not paths:
        return
    others = [_fsync_pool().submit(_fsync_file, path) for path in paths[1:]]
    try:
        _fsync_file(paths[0])
    finally:
        for future in others:
            future.result()


@functools.cache
def _fsync_pool() -> ThreadPoolExecutor:
    # Created in the process that uses it (a gunicorn worker, after the fork).
    return ThreadPoolExecutor(max_workers=4, thread_name_prefix="fsync")


def _fsync_file(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _put_in_place(storage: FileSystemStorage, item: _Prepared) -> bool:
    """Give the complete, fsynced `item.source` the key's name; False if a concurrent writer's
    sound object is there already (theirs is kept). A caller's file that cannot be linked
    there after all is copied, as one on another filesystem is."""
    obj, final = item.obj, item.final
    try:
        os.link(item.source, final)
        return True
    except FileExistsError:
        if _local_matches(final, size=obj.size, sha256=obj.sha256):
            return False
    except OSError as exc:
        if item.source != obj.path or exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK):
            raise
        copy = _write_temporary(storage, obj)
        try:
            _fsync_file(copy)
            return _put_in_place(storage, _Prepared(obj, final, item.directory, source=copy))
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(copy)
    # A wrong object is at the key: replace it whole, through a second name of the file.
    temp = os.path.join(item.directory, f".tmp-{secrets.token_hex(8)}")
    os.link(item.source, temp)
    try:
        os.replace(temp, final)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
    return True


def _local_matches(path: str, *, size: int, sha256: str) -> bool:
    try:
        if os.path.getsize(path) != size:
            return False
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            while chunk := handle.read(CHUNK):
                digest.update(chunk)
    except (FileNotFoundError, NotADirectoryError):
        return False
    return digest.hexdigest() == sha256


def _make_directory(storage: FileSystemStorage, directory: str) -> None:
    """As FileSystemStorage._save creates folders, with its directory permissions."""
    mode = storage.directory_permissions_mode
    if mode is None:
        os.makedirs(directory, exist_ok=True)
        return
    old_umask = os.umask(0o777 & ~mode)
    try:
        os.makedirs(directory, mode, exist_ok=True)
    finally:
        os.umask(old_umask)


def _fsync_directory(directory: str) -> None:
    """The new name must survive a crash as well as the bytes behind it."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --- S3 -------------------------------------------------------------------------------------


def _store_s3(storage: Storage, *, key: str, body: IO[bytes], size: int, sha256: str) -> bool:
    """1. Re-use a sound object at the key.
    2. Hash the local bytes first (reading them is cheap next to sending them), so a PUT never
       labels other bytes with this sha256.
    3. PUT with the sha256 as metadata; then HEAD: a wrong size is deleted and refused.
    """
    if _s3_matches(storage, key=key, size=size, sha256=sha256):
        return False
    written, digest = _digest_of(body)
    if (written, digest) != (size, sha256):
        raise StorageUnavailable(
            f"the bytes for {key} changed while being stored ({written} bytes, sha256 {digest})"
        )
    params = storage.get_object_parameters(key)
    params.setdefault("ContentType", "application/octet-stream")
    if storage.default_acl and "ACL" not in params:
        params["ACL"] = storage.default_acl
    params["Metadata"] = {**params.get("Metadata", {}), SHA256_METADATA: sha256}
    body.seek(0)
    _s3_object(storage, key).upload_fileobj(body, ExtraArgs=params, Config=storage.transfer_config)
    stored = _s3_head(storage, key)
    if stored is None or stored[0] != size:
        storage.delete(key)
        raise StorageUnavailable(
            f"{key} was stored with {stored[0] if stored else 'no'} bytes instead of {size}"
        )
    return True


def _s3_matches(storage: Storage, *, key: str, size: int, sha256: str) -> bool:
    stored = _s3_head(storage, key)
    if stored is None or stored[0] != size:
        return False
    if stored[1]:
        return stored[1] == sha256
    # Written before objects carried their sha256: read it once to decide.
    with storage.open(key, "rb") as handle:
        return _digest_of(handle) == (size, sha256)


def _s3_head(storage: Storage, key: str) -> tuple[int, str] | None:
    """(size, sha256 metadata or "") of the object at `key`, None if there is none."""
    from botocore.exceptions import ClientError  # Only installed where S3 is used.

    obj = _s3_object(storage, key)
    try:
        obj.load()
    except ClientError as exc:
        if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404:
            return None
        raise
    return obj.content_length, (obj.metadata or {}).get(SHA256_METADATA, "")


def _s3_object(storage: Storage, key: str):
    # The storage's own key mapping (its `location` prefix and name cleaning).
    from storages.utils import clean_name

    return storage.bucket.Object(storage._normalize_name(clean_name(key)))


def _is_boto_error(exc: Exception) -> bool:
    try:
        from boto3.exceptions import Boto3Error
        from botocore.exceptions import BotoCoreError, ClientError
    except ImportError:
        return False
    return isinstance(exc, BotoCoreError | ClientError | Boto3Error)


def _digest_of(handle: IO[bytes]) -> tuple[int, str]:
    handle.seek(0)
    size, digest = 0, hashlib.sha256()
    while chunk := handle.read(CHUNK):
        size += len(chunk)
        digest.update(chunk)
    handle.seek(0)
    return size, digest.hexdigest()


# --- Stored documents (packages/documents.py) ------------------------------------------------
#
# A project's large simple pages and JSON API document, stored with `store_all_verified` under
# immutable content-addressed keys below this prefix. No web server serves them directly (the
# app asks permissions first), and they are no distributions (verify_storage skips them).

DOCUMENTS_PREFIX = "documents"


def open_object(key: str) -> IO[bytes] | None:
    """The object at `key`, open for reading; None if it is not there. Local storage gives the
    file itself (a server can sendfile it); S3 the object read into memory."""
    storage = storages["default"]
    if isinstance(storage, FileSystemStorage):
        return open_local_file(storage.path(key))
    try:
        with storage.open(key, "rb") as handle:
            return io.BytesIO(handle.read())
    except (FileNotFoundError, OSError):
        return None
    except Exception as exc:
        if _is_boto_error(exc):
            return None
        raise


def open_local_file(path: str) -> IO[bytes] | None:
    """A file of local storage open for reading (the caller's response closes it); None if it
    is gone."""
    try:
        return open(path, "rb")  # noqa: SIM115
    except (FileNotFoundError, NotADirectoryError):
        return None


# --- Page sets (static simple pages, packages/static_pages.py) ------------------------------
#
# A page set is a few small files that must change together (a project's HTML and JSON simple
# pages and their gzip forms), published under one key such as `simple/<name>`.
#
# - Local files: each version is a folder `simple/.pages/<name>/<version>/` written in full
#   under a temporary name and renamed into place; `simple/<name>` is a symlink to it, swapped
#   by `os.replace` (a rename: a reader sees the old set or the new one, never a mix). The
#   version names the serial and ETags, so a web server reads them from the resolved path
#   (nginx: `$realpath_root`, deploy/nginx/). The previous version stays for readers that
#   resolved the link just before the swap; older ones are removed.
# - S3: one PUT per file (each atomic), the version in each object's metadata.

PAGES_PREFIX = "simple"
_VERSIONS = ".pages"
PAGE_VERSION_METADATA = "page-version"
# The page whose metadata holds an S3 page set's version.
_FIRST_PAGE = "index.html"


@dataclass(frozen=True)
class PageFile:
    """One file of a page set: `body`, or for a large page (the root) `chunks`, called once
    per write and yielding the bytes piece by piece, so no writer holds the page whole."""

    name: str
    body: bytes
    content_type: str
    chunks: Callable[[], Iterable[bytes]] | None = None

    def pieces(self) -> Iterable[bytes]:
        return self.chunks() if self.chunks is not None else (self.body,)


def page_set_version(*, key: str) -> str | None:
    """The version published under `key`, None if there is none."""
    storage = storages["default"]
    if isinstance(storage, FileSystemStorage):
        try:
            return posixpath.basename(os.readlink(storage.path(key)))
        except (FileNotFoundError, NotADirectoryError, OSError):
            return None
    head = _s3_head_metadata(storage, f"{key}/{_FIRST_PAGE}")
    return head.get(PAGE_VERSION_METADATA) if head is not None else None


def publish_page_set(*, key: str, version: str, pages: list[PageFile]) -> bool:
    """Make `key` serve exactly `pages` as `version`; False if that version is already there.

    The caller serializes writers of one key (static_pages takes a lock) and decides whether
    `version` is newer than what is published.
    """
    storage = storages["default"]
    if page_set_version(key=key) == version:
        return False
    try:
        if isinstance(storage, FileSystemStorage):
            _publish_local(storage, key=key, version=version, pages=pages)
        else:
            _publish_s3(storage, key=key, version=version, pages=pages)
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise StorageFull(f"no space left to store {key}") from exc
        raise StorageUnavailable(f"could not store {key}: {exc}") from exc
    return True


def remove_page_set(*, key: str, names: list[str]) -> bool:
    """Stop serving `key` (the link first, then its versions); False if there was nothing."""
    storage = storages["default"]
    if not isinstance(storage, FileSystemStorage):
        found = page_set_version(key=key) is not None
        for name in names:
            storage.delete(f"{key}/{name}")
        return found
    link = storage.path(key)
    try:
        os.unlink(link)
    except FileNotFoundError:
        return False
    _fsync_directory(os.path.dirname(link))
    shutil.rmtree(_versions_directory(storage, key), ignore_errors=True)
    return True


def ensure_alias(*, key: str, target: str) -> None:
    """`key` serves what `target` (relative to key's folder) holds, so that a plain web server
    or the bucket finds `simple/index.html` in the root's page set: a fixed symlink on local
    storage, a server-side copy of the current object on S3."""
    storage = storages["default"]
    if not isinstance(storage, FileSystemStorage):
        source = _s3_object(storage, posixpath.join(posixpath.dirname(key), target))
        _s3_object(storage, key).copy_from(
            CopySource={"Bucket": source.bucket_name, "Key": source.key},
            MetadataDirective="COPY",
        )
        return
    path = storage.path(key)
    if os.path.islink(path) and os.readlink(path) == target:
        return
    temp = f"{path}.tmp-{secrets.token_hex(8)}"
    os.symlink(target, temp)
    os.replace(temp, path)


def set_marker(*, key: str, present: bool) -> None:
    """An empty file at `key` (local storage only): how nginx learns that a file must not be
    served (deploy/nginx/index.conf), since it serves /packages/ without asking the app."""
    storage = storages["default"]
    if not isinstance(storage, FileSystemStorage):
        return
    path = storage.path(key)
    if present:
        _make_directory(storage, os.path.dirname(path))
        with open(path, "a"):
            pass
    else:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def has_marker(*, key: str) -> bool:
    storage = storages["default"]
    return isinstance(storage, FileSystemStorage) and os.path.exists(storage.path(key))


def _versions_directory(storage: FileSystemStorage, key: str) -> str:
    parent, name = posixpath.split(key)
    return storage.path(posixpath.join(parent, _VERSIONS, name))


def _publish_local(
    storage: FileSystemStorage, *, key: str, version: str, pages: list[PageFile]
) -> None:
    """1. Write every file into a temporary folder beside the versions, fsynced.
    2. Rename the folder to its version (a concurrent identical write may have done it).
    3. Point a temporary symlink at it and rename that over `key`.
    4. Remove versions other than this one and the one it replaced.
    """
    versions = _versions_directory(storage, key)
    _make_directory(storage, versions)
    final = os.path.join(versions, version)
    if not os.path.isdir(final):
        temp = os.path.join(versions, f".tmp-{secrets.token_hex(8)}")
        os.mkdir(temp)
        try:
            for page in pages:
                with open(os.path.join(temp, page.name), "xb") as handle:
                    for piece in page.pieces():
                        handle.write(piece)
                    handle.flush()
                    os.fsync(handle.fileno())
                if storage.file_permissions_mode is not None:
                    os.chmod(os.path.join(temp, page.name), storage.file_permissions_mode)
            _fsync_directory(temp)
            try:
                os.rename(temp, final)
            except OSError:
                if not os.path.isdir(final):
                    raise
        finally:
            shutil.rmtree(temp, ignore_errors=True)
        _fsync_directory(versions)
    link = storage.path(key)
    previous = page_set_version(key=key)
    target = posixpath.join(_VERSIONS, posixpath.basename(key), version)
    temp_link = f"{link}.tmp-{secrets.token_hex(8)}"
    os.symlink(target, temp_link)
    try:
        os.replace(temp_link, link)
    except OSError:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_link)
        raise
    _fsync_directory(os.path.dirname(link))
    for name in os.listdir(versions):
        if name not in (version, previous):
            shutil.rmtree(os.path.join(versions, name), ignore_errors=True)


def _publish_s3(storage: Storage, *, key: str, version: str, pages: list[PageFile]) -> None:
    # The first page carries the version that page_set_version reads, so it goes last: a
    # failure part-way leaves the old version recorded and the next write completes the set.
    ordered = sorted(pages, key=lambda page: page.name == _FIRST_PAGE)
    for page in ordered:
        params = {
            "ContentType": page.content_type,
            "Metadata": {PAGE_VERSION_METADATA: version},
        }
        if storage.default_acl:
            params["ACL"] = storage.default_acl
        if page.chunks is None:
            _s3_object(storage, f"{key}/{page.name}").put(Body=page.body, **params)
            continue
        # Spooled to a temporary file past a few megabytes, then sent in parts.
        with tempfile.SpooledTemporaryFile(max_size=8 * CHUNK) as spool:
            for piece in page.pieces():
                spool.write(piece)
            spool.seek(0)
            _s3_object(storage, f"{key}/{page.name}").upload_fileobj(
                spool, ExtraArgs=params, Config=storage.transfer_config
            )


def _s3_head_metadata(storage: Storage, key: str) -> dict[str, str] | None:
    from botocore.exceptions import ClientError

    obj = _s3_object(storage, key)
    try:
        obj.load()
    except ClientError as exc:
        if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404:
            return None
        raise
    return obj.metadata or {}
