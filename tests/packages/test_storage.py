"""packages/storage.store_verified on local files: a key never shows a partial object, a
concurrent writer is never clobbered by a sound copy, and a wrong object is replaced."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import pytest
from django.core.files.base import File as DjangoFile
from django.core.files.storage import FileSystemStorage, storages
from django.core.management import call_command

from packages.models import File
from packages.storage import StorageUnavailable, store_verified
from tests.factories import make_token, make_user, post_upload, wheel_upload

KEY = "ab/cd/" + "e" * 60 + "/demo-1.0.tar.gz"
CONTENT = os.urandom(100_000)
SHA256 = hashlib.sha256(CONTENT).hexdigest()


class _RivalOnClose(io.FileIO):
    def __init__(self, path: str, mode: str, *, storage: RacingStorage) -> None:
        super().__init__(path, mode)
        self.storage = storage

    def close(self) -> None:
        super().close()
        if self.storage.rival is not None:
            Path(self.storage.path(KEY)).write_bytes(self.storage.rival)
            self.storage.rival = None


class RacingStorage(FileSystemStorage):
    """A concurrent writer puts `rival` at KEY just as this writer finishes its temporary file,
    after this writer found the key empty."""

    rival: bytes | None = None

    def _open(self, name: str, mode: str = "rb") -> DjangoFile:
        if "x" not in mode:
            return super()._open(name, mode)
        return DjangoFile(_RivalOnClose(self.path(name), mode, storage=self), name)


@pytest.fixture
def racing(settings, tmp_path) -> RacingStorage:
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": f"{__name__}.RacingStorage",
            "OPTIONS": {"location": tmp_path / "files"},
        },
    }
    return storages["default"]


def store(body: bytes) -> bool:
    """Store `body` at KEY as if it were CONTENT (its size and sha256)."""
    return store_verified(key=KEY, body=io.BytesIO(body), size=len(CONTENT), sha256=SHA256)


def files_under(storage: FileSystemStorage) -> list[str]:
    root = Path(storage.location)
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_a_concurrent_writers_sound_object_is_kept(racing):
    racing.rival = CONTENT
    assert store(CONTENT) is False
    assert Path(racing.path(KEY)).read_bytes() == CONTENT
    assert files_under(racing) == [KEY]  # The temporary file is gone.


def test_a_concurrent_partial_object_is_replaced_whole(racing):
    racing.rival = CONTENT[:1000]
    assert store(CONTENT) is True
    assert Path(racing.path(KEY)).read_bytes() == CONTENT
    assert files_under(racing) == [KEY]


def test_bytes_that_do_not_match_their_digest_are_not_stored():
    storage = storages["default"]
    # The last byte flipped: always different (a fixed replacement byte equals the random one
    # once in 256 runs).
    damaged = CONTENT[:-1] + bytes([CONTENT[-1] ^ 0xFF])
    with pytest.raises(StorageUnavailable):
        store_verified(key=KEY, body=io.BytesIO(damaged), size=len(CONTENT), sha256=SHA256)
    assert not storage.exists(KEY)
    assert files_under(storage) == []


def test_stored_files_get_the_storage_permissions(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {
                "location": tmp_path / "files",
                "file_permissions_mode": 0o640,
                "directory_permissions_mode": 0o750,
            },
        },
    }
    storage = storages["default"]
    assert store(CONTENT)
    assert os.stat(storage.path(KEY)).st_mode & 0o777 == 0o640
    assert os.stat(os.path.dirname(storage.path(KEY))).st_mode & 0o777 == 0o750


@pytest.mark.django_db
def test_backfill_replaces_a_wrong_metadata_object(client):
    token = make_token(make_user("owner"))
    upload = wheel_upload("demo", "1.0")
    assert post_upload(client, upload, token).status_code == 200
    wheel = File.objects.get()
    storage = storages["default"]
    sound = Path(storage.path(wheel.metadata_path)).read_bytes()
    Path(storage.path(wheel.metadata_path)).write_bytes(sound[:10])

    out = io.StringIO()
    call_command("backfill_metadata", "--all", stdout=out, stderr=io.StringIO())
    assert "1 fixed" in out.getvalue()
    assert Path(storage.path(wheel.metadata_path)).read_bytes() == sound
    assert files_under(storage) == [wheel.path, wheel.metadata_path]


def written_file(tmp_path, body: bytes) -> str:
    path = tmp_path / "streamed.upload"
    path.write_bytes(body)
    return str(path)


def test_a_callers_file_is_linked_into_place(tmp_path):
    storage = storages["default"]
    source = written_file(tmp_path, CONTENT)
    assert store_verified(
        key=KEY, body=io.BytesIO(CONTENT), size=len(CONTENT), sha256=SHA256, path=source
    )
    assert os.stat(storage.path(KEY)).st_ino == os.stat(source).st_ino
    assert files_under(storage) == [KEY]


def test_a_callers_file_of_the_wrong_size_is_not_linked(tmp_path):
    storage = storages["default"]
    source = written_file(tmp_path, CONTENT[:-1])
    with pytest.raises(StorageUnavailable):
        store_verified(
            key=KEY, body=io.BytesIO(CONTENT), size=len(CONTENT), sha256=SHA256, path=source
        )
    assert files_under(storage) == []


def test_a_linked_file_replaces_a_wrong_object_and_keeps_a_sound_one(tmp_path):
    storage = storages["default"]
    Path(storage.path(KEY)).parent.mkdir(parents=True)
    Path(storage.path(KEY)).write_bytes(CONTENT[:10])
    source = written_file(tmp_path, CONTENT)
    obj = {"key": KEY, "body": io.BytesIO(CONTENT), "size": len(CONTENT), "sha256": SHA256}
    assert store_verified(**obj, path=source) is True
    assert Path(storage.path(KEY)).read_bytes() == CONTENT
    assert store_verified(**obj, path=written_file(tmp_path / "..", CONTENT)) is False
    assert os.stat(storage.path(KEY)).st_ino == os.stat(source).st_ino
    assert files_under(storage) == [KEY]
