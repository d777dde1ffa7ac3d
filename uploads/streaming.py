"""Receive the uploaded distribution straight to a temporary file, hashing as it arrives.

The body is never held in memory, and a file larger than the site's hard cap is cut off while
streaming instead of being written out in full. The per-project limit is checked once the
project is known (the form field order is up to the client).

Temporary files live in FILE_UPLOAD_TEMP_DIR (DATA_DIR/tmp unless set, beside local storage so
storing one is a link). A request deletes its own on every way out (`discard`); a worker
killed mid-upload cannot, so `remove_stale_upload_files` sweeps old ones at server start and
from `manage.py clean_upload_temp`.
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, StopUpload

from packages.digests import Digests


class HashedUpload(UploadedFile):
    def __init__(self, *, file, name: str, content_type: str, size: int, digests: dict[str, str]):
        super().__init__(file, name=name, content_type=content_type, size=size)
        self.digests = digests

    # Django's UploadedFile strips directories from the name; keep it as sent so the filename
    # checks can refuse it with PyPI's message rather than silently store a different name.
    @property
    def name(self) -> str:
        return self._name

    @name.setter
    def name(self, value: str) -> None:
        self._name = value

    def temporary_file_path(self) -> str:
        return self.file.name

    def close(self) -> None:
        # Closing deletes the temporary file's name (packages/storage.py links or copies the
        # file, never moves it); it may be gone already if something removed it first.
        with contextlib.suppress(FileNotFoundError):
            self.file.close()


# Ours are tmp*.upload; Django's own handler names its files tmp*.upload.<ext>.
TEMP_PREFIX, TEMP_SUFFIX = "tmp", ".upload"
_TEMP_PATTERN = f"{TEMP_PREFIX}*{TEMP_SUFFIX}*"


def upload_temp_dir() -> Path:
    """The folder for temporary uploads, created if missing (a fresh DATA_DIR has none)."""
    folder = Path(settings.FILE_UPLOAD_TEMP_DIR or tempfile.gettempdir())
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def remove_stale_upload_files(
    *,
    min_age: timedelta,
    dry_run: bool = False,
    on_remove: Callable[[Path], None] | None = None,
) -> list[Path]:
    """Delete temporary upload files last written more than `min_age` ago; returns them.

    Only names this app's handlers make are touched, since FILE_UPLOAD_TEMP_DIR may be a
    shared folder such as /tmp. A live upload writes its file continually, so an old one
    belongs to a request that is gone.
    """
    cutoff = time.time() - min_age.total_seconds()
    removed = []
    for path in sorted(upload_temp_dir().glob(_TEMP_PATTERN)):
        try:
            if not path.is_file() or path.stat().st_mtime > cutoff:
                continue
            if not dry_run:
                path.unlink()
        except FileNotFoundError:
            continue  # Finished (moved or deleted) by its request meanwhile.
        removed.append(path)
        if on_remove is not None:
            on_remove(path)
    return removed


class HashingUploadHandler(FileUploadHandler):
    """Only the `content` field is kept; any other file field is refused by the form checks."""

    def __init__(self, request=None) -> None:
        super().__init__(request)
        self.too_large = False
        self.temps: list = []

    def new_file(
        self,
        field_name,
        file_name,
        content_type,
        content_length,
        charset=None,
        content_type_extra=None,
    ) -> None:
        super().new_file(
            field_name, file_name, content_type, content_length, charset, content_type_extra
        )
        # Closed (and so deleted) by HashedUpload.close or `discard` once the request is done.
        self.temp = tempfile.NamedTemporaryFile(  # noqa: SIM115
            prefix=TEMP_PREFIX, suffix=TEMP_SUFFIX, dir=upload_temp_dir()
        )
        self.temps.append(self.temp)
        self.digests = Digests()

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        if self.digests.size + len(raw_data) > settings.MAX_UPLOAD_LIMIT:
            self.too_large = True
            self.temp.close()
            raise StopUpload(connection_reset=False)
        self.digests.update(raw_data)
        self.temp.write(raw_data)
        return None

    def upload_interrupted(self) -> None:
        """The body ended before the file did (the client went away)."""
        self.discard()

    def discard(self) -> None:
        """Delete every temporary file this request made, whatever became of it; safe to call
        twice, and after local storage moved a file into place."""
        for temp in self.temps:
            with contextlib.suppress(FileNotFoundError):
                temp.close()

    def file_complete(self, file_size: int) -> HashedUpload:
        self.temp.flush()
        self.temp.seek(0)
        return HashedUpload(
            file=self.temp,
            name=self.file_name,
            content_type=self.content_type,
            size=self.digests.size,
            digests=self.digests.hexdigests(),
        )
