"""Distribution files built in memory, and the form twine POSTs with one: the single copy that the
Django tests (tests/factories.py), the end-to-end tests (tests/e2e/) and the benchmark (bench/)
all use, so every client we imitate sends the same thing.

Nothing here imports Django or the apps: bench/ runs outside Django, and a builder that spelled
names with the index's own code could not catch a mistake in it.
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
import tarfile
import zipfile

# Fixed member timestamps (zip needs one from 1980 on): the same arguments give the same bytes.
_DATE_TIME = (2024, 1, 1, 0, 0, 0)
# What twine sends as the Content-Type of the `content` part.
CONTENT_TYPE = "application/octet-stream"


def dist_name(name: str) -> str:
    """A project name as it starts a wheel or sdist filename (PEP 427, PEP 625): normalized,
    with `_` for runs of `-_.`."""
    return re.sub(r"[-_.]+", "_", name).lower()


def metadata_text(name: str, version: str, extra: str = "") -> str:
    """Core metadata 2.1; `extra` is more header lines, each ending in a newline."""
    return f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n{extra}"


def _record_line(member: str, body: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(body).digest()).rstrip(b"=").decode()
    return f"{member},sha256={digest},{len(body)}\n"


def make_wheel(
    name: str = "demo",
    version: str = "1.0",
    *,
    filename: str | None = None,
    tag: str = "py3-none-any",
    metadata: str | None = None,
    payload: bytes = b"VALUE = 1\n",
    extra_files: dict[str, bytes] | None = None,
    omit: tuple[str, ...] = (),
    compression: int = zipfile.ZIP_DEFLATED,
) -> tuple[str, bytes]:
    """A small, complete pure-Python wheel as (filename, bytes): METADATA, WHEEL and a RECORD
    that lists every other member with its hash (PEP 427). Members whose path ends with one of
    `omit` are left out, to make broken wheels."""
    package = dist_name(name)
    info = f"{package}-{version}.dist-info"
    members = {
        f"{package}/__init__.py": payload,
        f"{info}/METADATA": (metadata or metadata_text(name, version)).encode(),
        f"{info}/WHEEL": (
            f"Wheel-Version: 1.0\nGenerator: tests/dists.py\nRoot-Is-Purelib: true\nTag: {tag}\n"
        ).encode(),
        **(extra_files or {}),
    }
    members = {m: b for m, b in members.items() if not m.endswith(omit)}
    record = f"{info}/RECORD"
    if not record.endswith(omit) and record not in members:
        lines = "".join(_record_line(member, body) for member, body in members.items())
        members[record] = (lines + f"{record},,\n").encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for member, body in members.items():
            entry = zipfile.ZipInfo(member, date_time=_DATE_TIME)
            entry.compress_type = compression
            entry.external_attr = 0o644 << 16
            archive.writestr(entry, body)
    return filename or f"{package}-{version}-{tag}.whl", buffer.getvalue()


def make_sdist(
    name: str = "demo",
    version: str = "1.0",
    *,
    filename: str | None = None,
    top: str | None = None,
    with_pkg_info: bool = True,
) -> tuple[str, bytes]:
    """A small .tar.gz sdist (PEP 625 name) as (filename, bytes): setup.py and PKG-INFO under
    one top directory."""
    base = f"{dist_name(name)}-{version}"
    top = top or base
    members = {f"{top}/setup.py": b"from setuptools import setup\nsetup()\n"}
    if with_pkg_info:
        members[f"{top}/PKG-INFO"] = metadata_text(name, version).encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for member, body in members.items():
            entry = tarfile.TarInfo(member)
            entry.size = len(body)
            entry.mode = 0o644
            archive.addfile(entry, io.BytesIO(body))
    return filename or f"{base}.tar.gz", buffer.getvalue()


def upload_form(
    *,
    name: str,
    version: str,
    content: bytes,
    filetype: str = "bdist_wheel",
    pyversion: str = "py3",
    summary: str | None = None,
    digests: bool = True,
) -> dict[str, str]:
    """The text fields of twine's upload POST (`:action=file_upload`, metadata 2.1 and the three
    digests it computes); the file itself goes in a `content` part (see upload_files)."""
    form = {
        ":action": "file_upload",
        "protocol_version": "1",
        "metadata_version": "2.1",
        "name": name,
        "version": version,
        "filetype": filetype,
        "pyversion": pyversion,
    }
    if summary is not None:
        form["summary"] = summary
    if digests:
        form["md5_digest"] = hashlib.md5(content, usedforsecurity=False).hexdigest()
        form["sha256_digest"] = hashlib.sha256(content).hexdigest()
        form["blake2_256_digest"] = hashlib.blake2b(content, digest_size=32).hexdigest()
    return form


def upload_files(filename: str, content: bytes) -> dict[str, tuple[str, bytes, str]]:
    """The file part of twine's upload POST, as `requests.post(files=...)` takes it."""
    return {"content": (filename, content, CONTENT_TYPE)}
