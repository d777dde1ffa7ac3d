"""Hostile archives posted to /legacy/: bombs, escaping paths and links, devices, and
PKG-INFO or METADATA that names another project. Each is refused with a 400 and leaves no
row and no stored object."""

from __future__ import annotations

import gzip
import io
import stat
import tarfile
import zipfile

import pytest

from packages.models import File
from tests.dists import metadata_text
from tests.factories import UploadRequest, make_token, make_user, post_upload
from tests.uploads.test_upload import assert_nothing_stored, assert_refused

pytestmark = pytest.mark.django_db

PKG_INFO = metadata_text("demo", "1.0").encode()


@pytest.fixture
def token():
    return make_token(make_user("alice"))


def tar_member(name: str, body: bytes = b"", **attributes) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(body)
    for key, value in attributes.items():
        setattr(info, key, value)
    return info, body


def make_tar_gz(*members: tuple[tarfile.TarInfo, bytes], pkg_info: bytes = PKG_INFO) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", format=tarfile.PAX_FORMAT) as archive:
        for info, body in [tar_member("demo-1.0/PKG-INFO", pkg_info), *members]:
            archive.addfile(info, io.BytesIO(body) if info.isfile() else None)
    return buffer.getvalue()


def make_zip(members: dict[str, bytes], *, symlinks: dict[str, str] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("demo-1.0/PKG-INFO", PKG_INFO)
        for name, body in members.items():
            archive.writestr(name, body)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, target)
    return buffer.getvalue()


def sdist(content: bytes, *, filename: str = "demo-1.0.tar.gz") -> UploadRequest:
    return UploadRequest(filename=filename, content=content, filetype="sdist", pyversion="source")


def test_well_formed_sdist_with_inner_link_is_accepted(client, token):
    """Links that stay inside the archive are fine, and PKG-INFO's version is compared as a
    version, so 1.0.0 matches the form's 1.0."""
    content = make_tar_gz(
        tar_member("demo-1.0/setup.py", b"from setuptools import setup\nsetup()\n"),
        tar_member("demo-1.0/docs/setup.py", type=tarfile.SYMTYPE, linkname="../setup.py"),
        tar_member("demo-1.0/copy.py", type=tarfile.LNKTYPE, linkname="demo-1.0/setup.py"),
        pkg_info=metadata_text("Demo", "1.0.0").encode(),
    )
    response = post_upload(client, sdist(content), token)
    assert response.status_code == 200, response.content
    assert File.objects.count() == 1


def test_gzip_bomb_is_refused_at_the_size_bound(client, token, settings):
    settings.ARCHIVE_MAX_UNCOMPRESSED_SIZE = 1024 * 1024
    zeros = bytes(5 * 1024 * 1024)
    content = make_tar_gz(tar_member("demo-1.0/zeros", zeros))
    assert len(content) < 50 * 1024
    response = post_upload(client, sdist(content), token)
    assert_refused(
        response,
        400,
        "Invalid distribution file. File exceeds the limit of 1048576 bytes when uncompressed",
    )
    assert_nothing_stored()


def test_gzip_bomb_is_not_inflated_past_the_bound(client, token, settings, monkeypatch):
    """Many small members add up: reading stops near the bound, not at the end of the bomb."""
    settings.ARCHIVE_MAX_UNCOMPRESSED_SIZE = 1024 * 1024
    chunk = bytes(256 * 1024)
    content = make_tar_gz(*(tar_member(f"demo-1.0/zeros{i}", chunk) for i in range(256)))
    inflated = []

    class CountingGzipFile(gzip.GzipFile):
        def read(self, size=-1):
            data = super().read(size)
            inflated.append(len(data))
            return data

    monkeypatch.setattr(gzip, "GzipFile", CountingGzipFile)
    response = post_upload(client, sdist(content), token)
    assert_refused(response, 400, "File exceeds the limit of 1048576 bytes when uncompressed")
    assert 0 < sum(inflated) < 2 * 1024 * 1024  # The bomb is 64 MiB.
    assert_nothing_stored()


def test_too_many_members_are_refused(client, token, settings):
    settings.ARCHIVE_MAX_MEMBERS = 5
    content = make_tar_gz(*(tar_member(f"demo-1.0/m{i}.py", b"x = 1\n") for i in range(10)))
    response = post_upload(client, sdist(content), token)
    assert_refused(response, 400, "Invalid distribution file. File has more than 5 members")
    assert_nothing_stored()


def test_huge_pax_header_is_refused_before_it_is_read(client, token):
    info, body = tar_member("demo-1.0/setup.py", b"")
    info.pax_headers = {"comment": "x" * (5 * 1024 * 1024)}
    response = post_upload(client, sdist(make_tar_gz((info, body))), token)
    assert_refused(response, 400, "tar archive not accepted: A header is larger than")
    assert_nothing_stored()


@pytest.mark.parametrize(
    ("member", "message"),
    [
        (
            tar_member("demo-1.0/../../evil", b"x"),
            "tar archive not accepted: Unsafe path in archive: demo-1.0/../../evil",
        ),
        (
            tar_member("/etc/evil", b"x"),
            "tar archive not accepted: Unsafe path in archive: /etc/evil",
        ),
        (
            tar_member("demo-1.0/passwd", type=tarfile.SYMTYPE, linkname="/etc/passwd"),
            "tar archive not accepted: Link demo-1.0/passwd points outside the archive: "
            "/etc/passwd",
        ),
        (
            tar_member("demo-1.0/a/up", type=tarfile.SYMTYPE, linkname="../../../etc/passwd"),
            "Link demo-1.0/a/up points outside the archive: ../../../etc/passwd",
        ),
        (
            tar_member("demo-1.0/hard", type=tarfile.LNKTYPE, linkname="../outside"),
            "Link demo-1.0/hard points outside the archive: ../outside",
        ),
        (
            tar_member("demo-1.0/null", type=tarfile.CHRTYPE, devmajor=1, devminor=3),
            "tar archive not accepted: Device and FIFO members are not allowed: demo-1.0/null",
        ),
        (
            tar_member("demo-1.0/pipe", type=tarfile.FIFOTYPE),
            "Device and FIFO members are not allowed: demo-1.0/pipe",
        ),
    ],
    ids=lambda value: value if isinstance(value, str) else value[0].name,
)
def test_members_escaping_the_archive_are_refused(client, token, member, message):
    response = post_upload(client, sdist(make_tar_gz(member)), token)
    assert_refused(response, 400, message)
    assert_nothing_stored()


@pytest.mark.parametrize(
    ("pkg_info", "message"),
    [
        (
            metadata_text("evil", "1.0"),
            "The PKG-INFO in 'demo-1.0.tar.gz' is for evil 1.0, but the upload is for demo 1.0.",
        ),
        (
            metadata_text("demo", "2.0"),
            "The PKG-INFO in 'demo-1.0.tar.gz' is for demo 2.0, but the upload is for demo 1.0.",
        ),
        (
            "Metadata-Version: 2.1\nName: demo\n",
            "The PKG-INFO in 'demo-1.0.tar.gz' is for demo ?, but the upload is for demo 1.0.",
        ),
    ],
)
def test_pkg_info_for_another_project_or_version_is_refused(client, token, pkg_info, message):
    content = make_tar_gz(pkg_info=pkg_info.encode())
    response = post_upload(client, sdist(content), token)
    assert_refused(response, 400, message)
    assert_nothing_stored()


def test_oversized_pkg_info_is_refused(client, token):
    pkg_info = PKG_INFO + b"Description: " + b"x" * (5 * 1024 * 1024)
    response = post_upload(client, sdist(make_tar_gz(pkg_info=pkg_info)), token)
    assert_refused(response, 400, "demo-1.0/PKG-INFO is larger than 4194304 bytes")
    assert_nothing_stored()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            make_zip({"demo-1.0/../../evil": b"x"}),
            "ZIP archive not accepted: Unsafe path in archive: demo-1.0/../../evil",
        ),
        (
            make_zip({}, symlinks={"demo-1.0/passwd": "/etc/passwd"}),
            "ZIP archive not accepted: Link demo-1.0/passwd points outside the archive: "
            "/etc/passwd",
        ),
        (
            make_zip({"demo-1.0/zeros": bytes(5 * 1024 * 1024)}),
            "File exceeds the limit of 1048576 bytes when uncompressed",
        ),
    ],
    ids=["dotdot", "symlink", "bomb"],
)
def test_zip_sdist_members_are_bounded_too(client, token, settings, content, message):
    settings.ACCEPT_LEGACY_FILENAMES = True
    settings.ARCHIVE_MAX_UNCOMPRESSED_SIZE = 1024 * 1024
    response = post_upload(client, sdist(content, filename="demo-1.0.zip"), token)
    assert_refused(response, 400, message)
    assert_nothing_stored()


def test_zip_sdist_pkg_info_must_match(client, token, settings):
    settings.ACCEPT_LEGACY_FILENAMES = True
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("demo-1.0/PKG-INFO", metadata_text("evil", "1.0"))
    response = post_upload(client, sdist(buffer.getvalue(), filename="demo-1.0.zip"), token)
    assert_refused(response, 400, "The PKG-INFO in 'demo-1.0.zip' is for evil 1.0")
    assert_nothing_stored()


def test_wheel_shares_the_size_bound(client, token, settings):
    from tests.factories import wheel_upload

    settings.ARCHIVE_MAX_UNCOMPRESSED_SIZE = 1024 * 1024
    upload = wheel_upload(extra_files={"demo/zeros": bytes(5 * 1024 * 1024)})
    response = post_upload(client, upload, token)
    assert_refused(response, 400, "File exceeds the limit of 1048576 bytes when uncompressed")
    assert_nothing_stored()


def test_tar_reading_is_bounded_in_time(client, token, settings):
    settings.ARCHIVE_MAX_READ_SECONDS = 0
    content = make_tar_gz(tar_member("demo-1.0/setup.py", b"x = 1\n"))
    response = post_upload(client, sdist(content), token)
    assert_refused(response, 400, "Invalid distribution file. File took longer than 0 seconds")
    assert_nothing_stored()


def tar_then(tail: bytes, *, mode: str) -> bytes:
    """A tar archive (compressed per `mode`) with `tail` appended: a zip read from its end
    still opens, so a wheel appended this way is both a zip and a tar."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as archive:
        info, body = tar_member("demo/__init__.py", b"x = 1\n")
        archive.addfile(info, io.BytesIO(body))
    return buffer.getvalue() + tail


@pytest.mark.parametrize("mode", ["w", "w:gz", "w:bz2", "w:xz"])
def test_a_wheel_that_is_also_a_tar_is_refused(client, token, mode):
    from tests.factories import wheel_upload

    upload = wheel_upload()
    upload.content = tar_then(upload.content, mode=mode)
    zipfile.ZipFile(io.BytesIO(upload.content)).testzip()  # Still a readable zip.
    response = post_upload(client, upload, token)
    assert_refused(response, 400, "Invalid distribution file. File is both a zip and a tar file")
    assert_nothing_stored()


@pytest.mark.parametrize("mode", [None, "w", "w:gz", "w:bz2", "w:xz"])
def test_the_tar_check_answers_as_tarfile_does(tmp_path, mode):
    from packages.archives import _is_tar
    from tests.dists import make_wheel

    _filename, wheel = make_wheel()
    path = tmp_path / "file"
    path.write_bytes(wheel if mode is None else tar_then(wheel, mode=mode))
    assert _is_tar(str(path)) == tarfile.is_tarfile(str(path)) == (mode is not None)
    path.write_bytes(b"\x1f\x8b not really gzip" + wheel)
    assert _is_tar(str(path)) is tarfile.is_tarfile(str(path)) is False
