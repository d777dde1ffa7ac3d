"""Importing distributions from a folder (such as a pypiserver `packages/` directory) through the
upload path itself, so imported files get every check, row, journal entry and stored object an
upload would.

For each file:
1. Read its core metadata (a wheel's METADATA, an sdist's PKG-INFO) with the upload's own
   bounded archive reader (packages/archives.py).
2. Build the form twine would send from it, and copy the file to a temporary file while
   hashing it (an upload's temporary file is deleted when the upload closes, and the source
   folder must stay untouched).
3. Run `validate_form` and `upload_file` as the importing user. Filenames older tools made are
   accepted (ACCEPT_LEGACY_FILENAMES) and the new-project rate limit does not apply.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.parser import BytesParser
from email.policy import compat32
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.http import QueryDict
from django.test.utils import override_settings
from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from packages.archives import ArchiveError, inspect_wheel, read_sdist_pkg_info
from packages.digests import Digests
from uploads.checks import UploadError, validate_form
from uploads.service import Uploader, upload_file
from uploads.streaming import HashedUpload

USER_AGENT = "manage.py import_dists"
CHUNK = 1024 * 1024

# Core metadata header -> upload form field (twine's names), for fields that occur once.
_SINGLE = {
    "Metadata-Version": "metadata_version",
    "Name": "name",
    "Version": "version",
    "Summary": "summary",
    "Description-Content-Type": "description_content_type",
    "Keywords": "keywords",
    "Home-page": "home_page",
    "Download-URL": "download_url",
    "Author": "author",
    "Author-email": "author_email",
    "Maintainer": "maintainer",
    "Maintainer-email": "maintainer_email",
    "License": "license",
    "License-Expression": "license_expression",
    "Requires-Python": "requires_python",
}
_MULTI = {
    "Classifier": "classifiers",
    "Platform": "platform",
    "Supported-Platform": "supported_platform",
    "Requires-Dist": "requires_dist",
    "Provides-Dist": "provides_dist",
    "Obsoletes-Dist": "obsoletes_dist",
    "Requires-External": "requires_external",
    "Provides-Extra": "provides_extra",
    "Dynamic": "dynamic",
    "License-File": "license_file",
    "Project-URL": "project_urls",
}


class ImportSkipped(Exception):
    """Not a distribution this index takes (an .egg, a .exe, a stray file)."""


@dataclass(frozen=True)
class ImportResult:
    path: Path
    status: str  # "created", "exists", "skipped" or "failed"
    message: str = ""


def distribution_paths(directory: Path) -> list[Path]:
    """Every file under `directory` (pypiserver allows sub-folders): wheels first, because the
    first file of a release sets its metadata and a wheel's METADATA is the reliable one."""
    paths = [p for p in directory.rglob("*") if p.is_file() and not p.name.startswith(".")]
    return sorted(paths, key=lambda p: (not p.name.endswith(".whl"), str(p)))


def import_file(*, path: Path, user: AbstractBaseUser) -> ImportResult:
    try:
        post, filetype = build_form(path)
    except ImportSkipped as exc:
        return ImportResult(path=path, status="skipped", message=str(exc))
    uploader = Uploader(user=user, token=None, user_agent=USER_AGENT)
    unlimited = {
        **settings.RATE_LIMITS,
        "project_create_user": f"{10**9}/1",
        "project_create_ip": f"{10**9}/1",
    }
    with (
        hashed_copy(path) as content,
        override_settings(ACCEPT_LEGACY_FILENAMES=True, RATE_LIMITS=unlimited),
    ):
        post["sha256_digest"] = content.digests["sha256"]
        try:
            form = validate_form(post, {"content": content})
            result = upload_file(form=form, content=content, uploader=uploader)
        except UploadError as exc:
            return ImportResult(path=path, status="failed", message=exc.message)
    return ImportResult(path=path, status="created" if result.created else "exists")


def build_form(path: Path) -> tuple[QueryDict, str]:
    """The multipart fields twine would send for this file (without the file itself)."""
    name = path.name
    if name.endswith(".whl"):
        filetype = "bdist_wheel"
        try:
            parse_wheel_filename(name)
        except InvalidWheelFilename as exc:
            raise ImportSkipped(str(exc)) from None
        pyversion = name.removesuffix(".whl").split("-")[-3]  # The python tag, as twine sends.
    elif name.endswith((".tar.gz", ".zip")):
        filetype, pyversion = "sdist", "source"
    else:
        raise ImportSkipped("not a wheel or an sdist")
    # The upload's own archive reader, bounds and all: the folder may hold anything.
    try:
        if filetype == "sdist":
            metadata = read_sdist_pkg_info(str(path), filename=name)
        else:
            metadata = inspect_wheel(str(path), filename=name)
    except ArchiveError as exc:
        raise ImportSkipped(str(exc)) from None

    headers = BytesParser(policy=compat32).parsebytes(metadata)
    post = QueryDict(mutable=True)
    post[":action"], post["protocol_version"] = "file_upload", "1"
    post["filetype"], post["pyversion"] = filetype, pyversion
    for header, field in _SINGLE.items():
        value = headers.get(header)
        if value is not None and str(value).strip():
            post[field] = str(value).strip()
    for header, field in _MULTI.items():
        for value in headers.get_all(header) or []:
            post.appendlist(field, str(value).strip())
    body = headers.get_payload()
    description = headers.get("Description")
    if isinstance(body, str) and body.strip():
        post["description"] = body
    elif description:
        post["description"] = _unfold_description(str(description))
    return post, filetype


def _unfold_description(value: str) -> str:
    """Metadata 1.x puts the description in a header, continuation lines prefixed `       |`."""
    lines = value.splitlines()
    return "\n".join(
        [lines[0]] + [line.removeprefix("       |").removeprefix("        ") for line in lines[1:]]
    )


@contextmanager
def hashed_copy(path: Path) -> Iterator[HashedUpload]:
    """A HashedUpload of a copy of `path` in a temporary file, removed afterwards (an
    upload's temporary file is deleted when it closes; the source must stay as it is)."""
    digests = Digests()
    temp = tempfile.NamedTemporaryFile(  # noqa: SIM115 - HashedUpload.close closes it
        suffix=".upload", dir=settings.FILE_UPLOAD_TEMP_DIR
    )
    with path.open("rb") as source:
        while chunk := source.read(CHUNK):
            digests.update(chunk)
            temp.write(chunk)
    temp.flush()
    temp.seek(0)
    upload = HashedUpload(
        file=temp,
        name=path.name,
        content_type="application/octet-stream",
        size=digests.size,
        digests=digests.hexdigests(),
    )
    try:
        yield upload
    finally:
        upload.close()
