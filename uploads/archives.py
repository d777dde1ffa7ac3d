"""Archive checks on an uploaded distribution (Warehouse checks 19 to 21).

Everything read from inside an archive is read with a bound, so a zip bomb or a huge member
cannot exhaust memory.
"""

from __future__ import annotations

import io
import tarfile
import zipfile
from email.parser import BytesHeaderParser

from packaging.utils import canonicalize_version

from packages.names import same_name

MAX_METADATA_SIZE = 4 * 1024 * 1024
MAX_COMPRESSION_RATIO = 50
# PyPI only applies the ratio check to large archives; small ones compress text very well.
RATIO_CHECK_THRESHOLD = 64 * 1024 * 1024
ALLOWED_ZIP_COMPRESSION = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED}


class ArchiveError(ValueError):
    pass


def _invalid(reason: str) -> ArchiveError:
    return ArchiveError(f"Invalid distribution file. {reason}")


def read_member(archive: zipfile.ZipFile, name: str, *, limit: int = MAX_METADATA_SIZE) -> bytes:
    """Read one member, refusing to inflate past `limit` bytes whatever its header claims."""
    with archive.open(name) as member:
        data = member.read(limit + 1)
    if len(data) > limit:
        raise _invalid(f"{name} is larger than {limit} bytes")
    return data


def inspect_wheel(path: str, *, filename: str) -> bytes:
    """Check a wheel's framing and required files; returns its METADATA bytes."""
    archive = _open_zip(path)
    with archive:
        infos = archive.infolist()
        _check_zip_members(infos)
        names = {i.filename for i in infos}
        dist_info = _find_dist_info(names, filename=filename)
        if f"{dist_info}/WHEEL" not in names:
            raise _invalid(f"WHEEL not found at {dist_info}/WHEEL")
        if f"{dist_info}/RECORD" not in names:
            raise _invalid(
                f"Wheel '{filename}' does not contain the required RECORD file: {dist_info}/RECORD"
            )
        if f"{dist_info}/METADATA" not in names:
            raise _invalid(
                f"Wheel '{filename}' does not contain the required METADATA file: "
                f"{dist_info}/METADATA"
            )
        return read_member(archive, f"{dist_info}/METADATA")


def _open_zip(path: str) -> zipfile.ZipFile:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError):
        raise _invalid("File is not a zipfile") from None
    if tarfile.is_tarfile(path):
        archive.close()
        raise _invalid("File is both a zip and a tar file")
    return archive


def _find_dist_info(names: set[str], *, filename: str) -> str:
    """The `.dist-info` directory for this wheel; older tools did not normalize its name, so
    compare names canonically."""
    name, version = filename.split("-")[:2]
    expected = f"{name}-{version}.dist-info"
    for top in sorted({n.split("/", 1)[0] for n in names if "/" in n}):
        stem = top.removesuffix(".dist-info")
        if stem == top or stem.count("-") != 1:
            continue
        top_name, top_version = stem.split("-")
        try:
            if same_name(top_name, name) and canonicalize_version(
                top_version
            ) == canonicalize_version(version):
                return top
        except ValueError:
            continue
    return expected


def _check_zip_members(infos: list[zipfile.ZipInfo]) -> None:
    seen: set[str] = set()
    compressed = uncompressed = 0
    for info in infos:
        if info.compress_type not in ALLOWED_ZIP_COMPRESSION:
            raise _invalid("File does not use a supported compression type")
        if info.filename in seen:
            raise _invalid(
                f"ZIP archive not accepted: Duplicate filename in archive: {info.filename}"
            )
        if info.filename.startswith("/") or ".." in info.filename.split("/"):
            raise _invalid(f"ZIP archive not accepted: Unsafe path in archive: {info.filename}")
        seen.add(info.filename)
        compressed += info.compress_size
        uncompressed += info.file_size
    if uncompressed > RATIO_CHECK_THRESHOLD and uncompressed > MAX_COMPRESSION_RATIO * max(
        compressed, 1
    ):
        raise _invalid(f"File exceeds compression ratio of {MAX_COMPRESSION_RATIO}")


def inspect_sdist(path: str, *, filename: str) -> None:
    if filename.endswith(".zip"):
        _inspect_zip_sdist(path)
    else:
        _inspect_tar_sdist(path)


def _inspect_tar_sdist(path: str) -> None:
    if zipfile.is_zipfile(path):
        raise _invalid("File is both a zip and a tar file")
    try:
        with tarfile.open(path, mode="r:gz") as archive:
            members = archive.getmembers()
    except (tarfile.TarError, OSError, EOFError):
        raise _invalid("File is not a tarfile") from None
    for member in members:
        if member.issparse():
            raise _invalid("tar archive not accepted: Sparse members are not allowed")
    tops = {m.name.split("/", 1)[0] for m in members if m.name not in ("", ".")}
    if len(tops) != 1:
        raise _invalid("Incorrect number of top-level directories in sdist")
    top = tops.pop()
    pkg_info = next((m for m in members if m.name == f"{top}/PKG-INFO"), None)
    if pkg_info is None or not pkg_info.isfile():
        raise _invalid(f"PKG-INFO not found at {top}/PKG-INFO")


def _inspect_zip_sdist(path: str) -> None:
    archive = _open_zip(path)
    with archive:
        infos = archive.infolist()
        _check_zip_members(infos)
        tops = {i.filename.split("/", 1)[0] for i in infos}
        if len(tops) != 1:
            raise _invalid("Incorrect number of top-level directories in sdist")
        top = tops.pop()
        if f"{top}/PKG-INFO" not in {i.filename for i in infos}:
            raise _invalid(f"PKG-INFO not found at {top}/PKG-INFO")


def check_wheel_metadata(metadata: bytes, *, filename: str, name: str, version: str) -> None:
    """Beyond PyPI: the wheel's own METADATA must name the same project and version as its
    filename and the upload form, so installers resolving by METADATA see what the index says."""
    headers = BytesHeaderParser().parse(io.BytesIO(metadata))
    inner_name, inner_version = headers.get("Name", ""), headers.get("Version", "")
    # canonicalize_version hands back an unparseable version unchanged, so it never matches.
    same_version = canonicalize_version(inner_version) == canonicalize_version(version)
    if not same_name(inner_name, name) or not same_version:
        raise _invalid(
            f"The METADATA in '{filename}' is for {inner_name or '?'} {inner_version or '?'}, "
            f"but the upload is for {name} {version}."
        )
