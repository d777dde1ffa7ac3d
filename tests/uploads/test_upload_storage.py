"""Uploads against a storage that fills up or fails, and over objects already at their key.

A failed write refuses the upload (507 when the storage is full, 503 otherwise) and leaves no
rows and no file, not even a temporary one; an object already at the key is published only if
its size and sha256 match the upload's.
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
import shutil
import socket
import subprocess
import zipfile
from pathlib import Path

import pytest
from django.core.files.base import File as DjangoFile
from django.core.files.storage import FileSystemStorage, storages

from packages.models import File, Project, Release
from tests.factories import make_token, make_user, post_upload, sdist_upload, wheel_upload

pytestmark = pytest.mark.django_db

FULL = "Insufficient Storage: the index has no room to store this file. Try again later."
UNAVAILABLE = "Storage unavailable: the index could not store this file. Try again later."


class _FillingFile(io.FileIO):
    """A file on a disk with `room` bytes left: the bytes up to that point land, then the
    write fails as the kernel would fail it."""

    def __init__(self, path: str, mode: str, *, storage: FillingStorage) -> None:
        super().__init__(path, mode)
        self.storage = storage

    def write(self, data) -> int:
        room = self.storage.room - self.storage.used
        if len(data) > room:
            super().write(bytes(data[:room]))
            self.storage.used += room
            raise OSError(self.storage.error, os.strerror(self.storage.error))
        self.storage.used += len(data)
        return super().write(data)


class FillingStorage(FileSystemStorage):
    """Local storage whose writes fail with `error` once `room` bytes were written in all."""

    def __init__(self, *, room: int, error: int = errno.ENOSPC, **kwargs) -> None:
        super().__init__(**kwargs)
        self.room, self.error, self.used = room, error, 0

    def _open(self, name: str, mode: str = "rb") -> DjangoFile:
        if not any(flag in mode for flag in "wxa+"):
            return super()._open(name, mode)
        return DjangoFile(_FillingFile(self.path(name), mode, storage=self), name)


@pytest.fixture
def token():
    return make_token(make_user("alice"))


@pytest.fixture
def temp_elsewhere(monkeypatch, settings):
    """Upload temporary files on another filesystem than storage (FILE_UPLOAD_TEMP_DIR set
    so): they cannot be linked into place, so storage writes a copy through the storage's own
    file objects, which FillingStorage makes fail."""
    link = os.link
    temp_dir = str(Path(settings.FILE_UPLOAD_TEMP_DIR).resolve())

    def cross_device_link(source, target, *args, **kwargs):
        if str(Path(source).resolve()).startswith(temp_dir + os.sep):
            raise OSError(errno.EXDEV, os.strerror(errno.EXDEV))
        return link(source, target, *args, **kwargs)

    monkeypatch.setattr(os, "link", cross_device_link)


def use_storage(settings, backend: str, **options) -> Path:
    location = Path(
        options.setdefault("location", settings.STORAGES["default"]["OPTIONS"]["location"])
    )
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": backend, "OPTIONS": options}}
    return location


def files_under(root: Path) -> list[str]:
    """Every file, hidden temporary ones included."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def assert_refused_and_nothing_left(response, status: int, message: str, root: Path) -> None:
    body = response.content.decode()
    assert response.status_code == status, body
    assert response.reason_phrase == message
    assert message in body
    assert (File.objects.count(), Release.objects.count(), Project.objects.count()) == (0, 0, 0)
    assert files_under(root) == []


def big_wheel():
    # Random bytes do not compress, so the wheel is about this large.
    return wheel_upload("demo", "1.0", extra_files={"demo/blob.bin": os.urandom(200_000)})


@pytest.mark.parametrize(
    ("error", "status", "message"),
    [(errno.ENOSPC, 507, FULL), (errno.EDQUOT, 507, FULL), (errno.EIO, 503, UNAVAILABLE)],
    ids=["ENOSPC", "EDQUOT", "EIO"],
)
def test_failed_write_refuses_upload_and_leaves_nothing(
    client, token, settings, error, status, message, temp_elsewhere
):
    root = use_storage(settings, f"{__name__}.FillingStorage", room=50_000, error=error)
    response = post_upload(client, big_wheel(), token)
    assert storages["default"].used == 50_000  # The write really started and filled the disk.
    assert_refused_and_nothing_left(response, status, message, root)


def test_failure_on_metadata_removes_the_stored_wheel(client, token, settings, temp_elsewhere):
    upload = wheel_upload("demo", "1.0")
    # Room for the wheel, not for its PEP 658 metadata stored after it.
    root = use_storage(settings, f"{__name__}.FillingStorage", room=len(upload.content) + 10)
    response = post_upload(client, upload, token)
    assert_refused_and_nothing_left(response, 507, FULL, root)


def test_upload_after_a_failed_one_succeeds_whole(client, token, settings, temp_elsewhere):
    upload = big_wheel()
    use_storage(settings, f"{__name__}.FillingStorage", room=50_000)
    assert post_upload(client, upload, token).status_code == 507
    use_storage(settings, "django.core.files.storage.FileSystemStorage")
    assert post_upload(client, upload, token).status_code == 200
    assert served(client, File.objects.get().path) == upload.content


@pytest.fixture
def small_disk(tmp_path) -> Path:
    """A real 64 KiB filesystem (tmpfs), where the kernel itself answers ENOSPC."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a size-limited tmpfs needs root and mount(8); FillingStorage "
                    "tests cover the same path")  # fmt: skip
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a size-limited tmpfs here: {result.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_full_disk_refuses_upload_and_leaves_nothing(client, token, settings, small_disk):
    root = use_storage(
        settings, "django.core.files.storage.FileSystemStorage", location=small_disk / "files"
    )
    response = post_upload(client, big_wheel(), token)
    assert_refused_and_nothing_left(response, 507, FULL, root)
    # The disk is usable again: nothing of the failed upload takes up room.
    small = sdist_upload("demo", "1.0")
    assert post_upload(client, small, token).status_code == 200
    assert served(client, File.objects.get().path) == small.content


# --- Objects already at the key -------------------------------------------------------------


def served(client, key: str) -> bytes:
    response = client.get(f"/packages/{key}")
    assert response.status_code == 200
    return b"".join(response.streaming_content)


def key_of(upload) -> str:
    blake2 = hashlib.blake2b(upload.content, digest_size=32).hexdigest()
    return f"{blake2[:2]}/{blake2[2:4]}/{blake2[4:]}/{upload.filename}"


def put_by_hand(key: str, content: bytes) -> None:
    path = Path(storages["default"].path(key))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)


def wheel_metadata(upload) -> bytes:
    with zipfile.ZipFile(io.BytesIO(upload.content)) as archive:
        (member,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        return archive.read(member)


def test_truncated_object_at_the_key_is_replaced_not_published(client, token):
    upload = wheel_upload("demo", "1.0")
    key = key_of(upload)
    metadata = wheel_metadata(upload)
    # What a full disk used to leave behind: the first half of each object at its final key.
    put_by_hand(key, upload.content[: len(upload.content) // 2])
    put_by_hand(f"{key}.metadata", metadata[: len(metadata) // 2])

    assert post_upload(client, upload, token).status_code == 200

    file = File.objects.get()
    assert file.path == key
    body = served(client, key)
    assert hashlib.sha256(body).hexdigest() == file.sha256_digest
    assert body == upload.content
    assert served(client, f"{key}.metadata") == metadata
    assert files_under(Path(storages["default"].location)) == [key, f"{key}.metadata"]


def test_object_of_the_right_size_but_other_bytes_is_replaced(client, token):
    upload = wheel_upload("demo", "1.0")
    key = key_of(upload)
    corrupted = bytearray(upload.content)
    corrupted[len(corrupted) // 2] ^= 0xFF
    put_by_hand(key, bytes(corrupted))

    assert post_upload(client, upload, token).status_code == 200
    assert served(client, key) == upload.content


def test_sound_object_at_the_key_is_reused_as_is(client, token):
    upload = sdist_upload("demo", "1.0")
    key = key_of(upload)
    put_by_hand(key, upload.content)
    before = os.stat(storages["default"].path(key)).st_ino

    assert post_upload(client, upload, token).status_code == 200
    assert os.stat(storages["default"].path(key)).st_ino == before
    assert served(client, key) == upload.content


def test_unreachable_object_storage_refuses_upload_with_503(client, token, settings):
    from botocore.config import Config

    with socket.socket() as probe:  # A port nobody listens on: S3 is down.
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": "files",
                "endpoint_url": f"http://127.0.0.1:{port}",
                "access_key": "testing",
                "secret_key": "testing",
                "region_name": "us-east-1",
                "client_config": Config(retries={"max_attempts": 1}, connect_timeout=2),
            },
        },
    }
    response = post_upload(client, wheel_upload("demo", "1.0"), token)
    assert response.status_code == 503, response.content
    assert response.reason_phrase == UNAVAILABLE
    assert UNAVAILABLE in response.content.decode()
    assert (File.objects.count(), Release.objects.count(), Project.objects.count()) == (0, 0, 0)


# --- The upload's temporary file becomes the stored object ------------------------------------


def test_upload_is_linked_into_place_not_copied(client, token, monkeypatch, settings):
    """Local storage on the temporary files' filesystem (the default): the wheel is fsynced and
    linked as streamed, the metadata written beside it, and their folder fsynced once after
    both names are in place."""
    import packages.storage

    linked, synced = [], []
    link, fsync_directory = os.link, packages.storage._fsync_directory

    def recording_link(source, target, *args, **kwargs):
        linked.append(Path(source).name)
        return link(source, target, *args, **kwargs)

    def recording_fsync_directory(directory):
        synced.append(directory)
        fsync_directory(directory)

    monkeypatch.setattr(os, "link", recording_link)
    monkeypatch.setattr(packages.storage, "_fsync_directory", recording_fsync_directory)
    upload = wheel_upload("demo", "1.0")
    assert post_upload(client, upload, token).status_code == 200

    file = File.objects.get()
    storage = storages["default"]
    assert any(name.endswith(".upload") for name in linked)  # The streamed temporary file.
    assert synced == [os.path.dirname(storage.path(file.path))]
    assert os.stat(storage.path(file.path)).st_mode & 0o777 == 0o644
    assert served(client, file.path) == upload.content
    assert served(client, file.metadata_path) == wheel_metadata(upload)
    # The temporary name went with the request; only the two objects remain.
    assert files_under(Path(storage.location)) == [file.path, file.metadata_path]
    assert list(Path(settings.FILE_UPLOAD_TEMP_DIR).glob("tmp*.upload*")) == []


def test_failed_transaction_removes_the_linked_object(client, token, monkeypatch, settings):
    def broken_add_file(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr("uploads.service.add_file", broken_add_file)
    client.raise_request_exception = False
    assert post_upload(client, wheel_upload("demo", "1.0"), token).status_code == 500
    assert files_under(Path(storages["default"].location)) == []
    assert list(Path(settings.FILE_UPLOAD_TEMP_DIR).glob("tmp*.upload*")) == []
