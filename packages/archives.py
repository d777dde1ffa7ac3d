"""Archive checks on an uploaded distribution (Warehouse checks 19 to 21, and more for sdists).

Wheels and sdists share one set of bounds (`archive_limits`): total uncompressed size, member
count, compression ratio and reading time. A zip is judged by its central directory before
anything is inflated, and each member read stops at `MAX_METADATA_SIZE`. A tar.gz has no
directory, so it is read forward once through `_BoundedStream`, which counts the bytes gzip
hands out: a gzip bomb stops at the size bound or the deadline, not after inflating it all.
Members that could escape the archive when unpacked (absolute paths, `..`, links pointing
outside, devices, FIFOs) are refused, and the PKG-INFO or METADATA inside must name the
project and version of the upload.
"""

from __future__ import annotations

import gzip
import io
import os
import posixpath
import stat
import tarfile
import time
import zipfile
import zlib
from dataclasses import dataclass
from email.parser import BytesHeaderParser

from django.conf import settings
from packaging.utils import canonicalize_version
from packaging.version import InvalidVersion, Version

from packages.names import same_name

MAX_METADATA_SIZE = 4 * 1024 * 1024
MAX_COMPRESSION_RATIO = 50
# PyPI only applies the ratio check to large archives; small ones compress text very well.
RATIO_CHECK_THRESHOLD = 64 * 1024 * 1024
ALLOWED_ZIP_COMPRESSION = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED}
# The absolute bounds (beyond PyPI, which has none) are settings: ARCHIVE_MAX_UNCOMPRESSED_SIZE
# (8 GiB: the largest GPU wheels unpack to about 3 GiB), ARCHIVE_MAX_MEMBERS, ..._READ_SECONDS.
_CHUNK = 1024 * 1024


class ArchiveError(ValueError):
    pass


def _invalid(reason: str) -> ArchiveError:
    return ArchiveError(f"Invalid distribution file. {reason}")


@dataclass(frozen=True)
class ArchiveLimits:
    uncompressed_size: int
    members: int
    seconds: float


def archive_limits() -> ArchiveLimits:
    """The bounds in force (settings ARCHIVE_MAX_*, which a site or a test may lower)."""
    return ArchiveLimits(
        uncompressed_size=settings.ARCHIVE_MAX_UNCOMPRESSED_SIZE,
        members=settings.ARCHIVE_MAX_MEMBERS,
        seconds=settings.ARCHIVE_MAX_READ_SECONDS,
    )


def _check_totals(*, uncompressed: int, compressed: int, limits: ArchiveLimits) -> None:
    if uncompressed > limits.uncompressed_size:
        raise _invalid(
            f"File exceeds the limit of {limits.uncompressed_size} bytes when uncompressed"
        )
    if uncompressed > RATIO_CHECK_THRESHOLD and uncompressed > MAX_COMPRESSION_RATIO * max(
        compressed, 1
    ):
        raise _invalid(f"File exceeds compression ratio of {MAX_COMPRESSION_RATIO}")


def _check_member_path(name: str, *, kind: str) -> None:
    parts = name.replace("\\", "/").split("/")
    if name.startswith(("/", "\\")) or ".." in parts:
        raise _invalid(f"{kind} archive not accepted: Unsafe path in archive: {name}")


def _escapes(target: str, *, relative_to: str) -> bool:
    """Whether a link target, read relative to the directory `relative_to`, leaves the
    archive's root."""
    if target.startswith(("/", "\\")):
        return True
    resolved = posixpath.normpath(posixpath.join(relative_to, target.replace("\\", "/")))
    return resolved == ".." or resolved.startswith("../")


def _link_outside(*, kind: str, name: str, target: str) -> ArchiveError:
    return _invalid(
        f"{kind} archive not accepted: Link {name} points outside the archive: {target}"
    )


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
        _check_zip_members(archive, compressed_size=os.path.getsize(path))
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
    if _is_tar(path):
        archive.close()
        raise _invalid("File is both a zip and a tar file")
    return archive


# The magic numbers of the compressions `tarfile.open` reads (gzip, bzip2, xz).
_COMPRESSED_MAGIC = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00")


def _is_tar(path: str) -> bool:
    """`tarfile.is_tarfile`, without its cost for a zip: it opens the file once per
    compression it knows (4% of an upload's CPU). Only a file that starts with one of those
    compressions' magic numbers can be a compressed tar; anything else is a tar only if its
    first block reads as a tar header, which is what opening it uncompressed checks."""
    with open(path, "rb") as handle:
        head = handle.read(6)
    if head.startswith(_COMPRESSED_MAGIC):
        return tarfile.is_tarfile(path)
    try:
        tarfile.open(path, "r:").close()
    except tarfile.TarError:
        return False
    return True


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


def _check_zip_members(archive: zipfile.ZipFile, *, compressed_size: int) -> None:
    """The central directory's claims, checked before any member is inflated; reads inflate
    no more than a member's claimed size (zipfile stops there), so the claims bound the work."""
    limits = archive_limits()
    infos = archive.infolist()
    if len(infos) > limits.members:
        raise _invalid(f"File has more than {limits.members} members")
    seen: set[str] = set()
    uncompressed = 0
    for info in infos:
        if info.compress_type not in ALLOWED_ZIP_COMPRESSION:
            raise _invalid("File does not use a supported compression type")
        if info.filename in seen:
            raise _invalid(
                f"ZIP archive not accepted: Duplicate filename in archive: {info.filename}"
            )
        _check_member_path(info.filename, kind="ZIP")
        seen.add(info.filename)
        uncompressed += info.file_size
        _check_totals(uncompressed=uncompressed, compressed=compressed_size, limits=limits)
        mode = info.external_attr >> 16
        if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
            raise _invalid(
                f"ZIP archive not accepted: Device and FIFO members are not allowed: "
                f"{info.filename}"
            )
        if stat.S_ISLNK(mode):
            # A zip symlink's target is its content, as `unzip` and pip's unpacker read it.
            target = read_member(archive, info.filename, limit=4096).decode("utf-8", "replace")
            if _escapes(target, relative_to=posixpath.dirname(info.filename)):
                raise _link_outside(kind="ZIP", name=info.filename, target=target)


def inspect_sdist(path: str, *, filename: str, name: str, version: str) -> None:
    """Check an sdist's framing and bounds, and that its PKG-INFO is for this upload."""
    pkg_info = read_sdist_pkg_info(path, filename=filename)
    check_metadata_matches(
        pkg_info, member="PKG-INFO", filename=filename, name=name, version=version
    )


def read_sdist_pkg_info(path: str, *, filename: str) -> bytes:
    """An sdist's PKG-INFO, read within the bounds (framing, members, size, time)."""
    if filename.endswith(".zip"):
        top, pkg_info = _inspect_zip_sdist(path)
    else:
        top, pkg_info = _inspect_tar_sdist(path)
    if pkg_info is None:
        raise _invalid(f"PKG-INFO not found at {top}/PKG-INFO")
    return pkg_info


def _single_top(names: list[str]) -> str:
    tops = {n.replace("\\", "/").split("/", 1)[0] for n in names if n not in ("", ".")}
    if len(tops) != 1:
        raise _invalid("Incorrect number of top-level directories in sdist")
    return tops.pop()


def _inspect_zip_sdist(path: str) -> tuple[str, bytes | None]:
    archive = _open_zip(path)
    with archive:
        _check_zip_members(archive, compressed_size=os.path.getsize(path))
        top = _single_top(archive.namelist())
        if f"{top}/PKG-INFO" not in archive.namelist():
            return top, None
        return top, read_member(archive, f"{top}/PKG-INFO")


class _BoundedStream(io.RawIOBase):
    """The decompressed bytes of a gzip file, for tarfile to read forward once: past the size
    bound, the ratio bound or the deadline it raises instead of inflating further. tarfile
    reads headers with one read() each, so a single read is bounded too (a forged GNU long
    name or pax header could otherwise ask for gigabytes at once)."""

    def __init__(self, raw: gzip.GzipFile, *, compressed_size: int, limits: ArchiveLimits):
        super().__init__()
        self.raw = raw
        self.compressed_size = compressed_size
        self.limits = limits
        self.deadline = time.monotonic() + limits.seconds
        self.position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def _advance(self, data: bytes) -> bytes:
        self.position += len(data)
        if time.monotonic() > self.deadline:
            raise _invalid(f"File took longer than {self.limits.seconds} seconds to read")
        _check_totals(
            uncompressed=self.position, compressed=self.compressed_size, limits=self.limits
        )
        return data

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0 or size > MAX_METADATA_SIZE + 1:
            raise _invalid(
                f"tar archive not accepted: A header is larger than {MAX_METADATA_SIZE} bytes"
            )
        return self._advance(self.raw.read(size))

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence != io.SEEK_SET:
            raise io.UnsupportedOperation("only absolute seeks")
        if offset < self.position:
            # Only tarfile's "unexpected end of data" probe goes back, and by one byte.
            self.raw.seek(offset)
            self.position = offset
            return offset
        _check_totals(uncompressed=offset, compressed=self.compressed_size, limits=self.limits)
        while self.position < offset:
            if not self._advance(self.raw.read(min(_CHUNK, offset - self.position))):
                break
        return self.position


def _inspect_tar_sdist(path: str) -> tuple[str, bytes | None]:
    if zipfile.is_zipfile(path):
        raise _invalid("File is both a zip and a tar file")
    limits = archive_limits()
    try:
        compressed_size = os.path.getsize(path)
        with gzip.GzipFile(path) as raw:
            stream = _BoundedStream(raw, compressed_size=compressed_size, limits=limits)
            with tarfile.open(fileobj=stream, mode="r:") as archive:
                return _read_tar_members(archive, compressed_size=compressed_size, limits=limits)
    except (tarfile.TarError, OSError, EOFError, zlib.error):
        raise _invalid("File is not a tarfile") from None


def _read_tar_members(
    archive: tarfile.TarFile, *, compressed_size: int, limits: ArchiveLimits
) -> tuple[str, bytes | None]:
    """One forward pass: each member is judged as its header arrives, and PKG-INFO is read
    when passed, so nothing has to be decompressed twice."""
    names: list[str] = []
    pkg_info: dict[str, bytes] = {}
    declared = 0
    for member in archive:
        names.append(member.name)
        if len(names) > limits.members:
            raise _invalid(f"File has more than {limits.members} members")
        _check_member_path(member.name, kind="tar")
        if member.issparse():
            raise _invalid("tar archive not accepted: Sparse members are not allowed")
        if member.ischr() or member.isblk() or member.isfifo():
            raise _invalid(
                f"tar archive not accepted: Device and FIFO members are not allowed: {member.name}"
            )
        # A symlink's target is relative to its own directory; a hard link's to the root.
        if (
            member.issym() and _escapes(member.linkname, relative_to=posixpath.dirname(member.name))
        ) or (member.islnk() and _escapes(member.linkname, relative_to="")):
            raise _link_outside(kind="tar", name=member.name, target=member.linkname)
        declared += member.size
        # The stream's own count catches the same bomb a little later; this refuses it from
        # the header alone.
        _check_totals(uncompressed=declared, compressed=compressed_size, limits=limits)
        if member.isfile() and member.name.count("/") == 1 and member.name.endswith("/PKG-INFO"):
            if member.size > MAX_METADATA_SIZE:
                raise _invalid(f"{member.name} is larger than {MAX_METADATA_SIZE} bytes")
            extracted = archive.extractfile(member)
            pkg_info[member.name] = extracted.read(MAX_METADATA_SIZE + 1) if extracted else b""
    top = _single_top(names)
    return top, pkg_info.get(f"{top}/PKG-INFO")


def check_metadata_matches(
    metadata: bytes, *, member: str, filename: str, name: str, version: str
) -> None:
    """Beyond PyPI: the METADATA or PKG-INFO inside must name the same project and version as
    the filename and the upload form, so tools reading the file see what the index says."""
    headers = BytesHeaderParser().parse(io.BytesIO(metadata))
    inner_name, inner_version = headers.get("Name", ""), headers.get("Version", "")
    try:
        same_version = Version(inner_version) == Version(version)
    except InvalidVersion:
        same_version = False
    if not same_name(inner_name, name) or not same_version:
        raise _invalid(
            f"The {member} in '{filename}' is for {inner_name or '?'} {inner_version or '?'}, "
            f"but the upload is for {name} {version}."
        )


def check_wheel_metadata(metadata: bytes, *, filename: str, name: str, version: str) -> None:
    check_metadata_matches(
        metadata, member="METADATA", filename=filename, name=name, version=version
    )
