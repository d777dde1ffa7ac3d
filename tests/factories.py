"""Plain helpers that make rows, tokens and real distribution files for tests."""

from __future__ import annotations

import base64
import hashlib
import io
import tarfile
import zipfile
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.tokens import create_api_token
from packages.names import sdist_name_prefix


def make_user(username: str = "alice", **fields):
    return get_user_model().objects.create_user(
        username=username, email=f"{username}@example.com", password="pw-not-used", **fields
    )


def make_token(user, *, projects=()) -> str:
    return create_api_token(user=user, projects=projects).plaintext


def basic_auth(token: str, username: str = "__token__") -> str:
    return "Basic " + base64.b64encode(f"{username}:{token}".encode()).decode()


def metadata_text(name: str, version: str, extra: str = "") -> str:
    return f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n{extra}"


def make_wheel(
    name: str = "demo",
    version: str = "1.0",
    *,
    filename: str | None = None,
    metadata: str | None = None,
    extra_files: dict[str, bytes] | None = None,
    omit: tuple[str, ...] = (),
    compression: int = zipfile.ZIP_DEFLATED,
) -> tuple[str, bytes]:
    dist = f"{sdist_name_prefix(name)}-{version}"
    filename = filename or f"{dist}-py3-none-any.whl"
    members = {
        f"{sdist_name_prefix(name)}/__init__.py": b"VALUE = 1\n",
        f"{dist}.dist-info/METADATA": (metadata or metadata_text(name, version)).encode(),
        f"{dist}.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\n"
        b"Tag: py3-none-any\n",
        f"{dist}.dist-info/RECORD": b"",
        **(extra_files or {}),
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for member, body in members.items():
            if not any(member.endswith(o) for o in omit):
                archive.writestr(member, body)
    return filename, buffer.getvalue()


def make_sdist(
    name: str = "demo",
    version: str = "1.0",
    *,
    filename: str | None = None,
    top: str | None = None,
    with_pkg_info: bool = True,
) -> tuple[str, bytes]:
    dist = f"{sdist_name_prefix(name)}-{version}"
    filename = filename or f"{dist}.tar.gz"
    top = top or dist
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        members = {f"{top}/setup.py": b"from setuptools import setup\nsetup()\n"}
        if with_pkg_info:
            members[f"{top}/PKG-INFO"] = metadata_text(name, version).encode()
        for member, body in members.items():
            info = tarfile.TarInfo(member)
            info.size = len(body)
            archive.addfile(info, io.BytesIO(body))
    return filename, buffer.getvalue()


@dataclass
class UploadRequest:
    """The multipart form twine sends, with every field overridable."""

    filename: str
    content: bytes
    name: str = "demo"
    version: str = "1.0"
    filetype: str = "bdist_wheel"
    pyversion: str = "py3"
    fields: dict = field(default_factory=dict)
    content_type: str = "application/octet-stream"
    digests: bool = True

    def data(self) -> dict:
        form = {
            ":action": "file_upload",
            "protocol_version": "1",
            "metadata_version": "2.1",
            "name": self.name,
            "version": self.version,
            "filetype": self.filetype,
            "pyversion": self.pyversion,
            "content": SimpleUploadedFile(self.filename, self.content, self.content_type),
        }
        if self.digests:
            form["sha256_digest"] = hashlib.sha256(self.content).hexdigest()
            form["md5_digest"] = hashlib.md5(self.content).hexdigest()
        form.update(self.fields)
        return {k: v for k, v in form.items() if v is not None}


def wheel_upload(name: str = "demo", version: str = "1.0", **kwargs) -> UploadRequest:
    wheel_kwargs = {
        k: kwargs.pop(k)
        for k in ("filename", "metadata", "extra_files", "omit", "compression")
        if k in kwargs
    }
    filename, content = make_wheel(name, version, **wheel_kwargs)
    return UploadRequest(filename=filename, content=content, name=name, version=version, **kwargs)


def sdist_upload(name: str = "demo", version: str = "1.0", **kwargs) -> UploadRequest:
    sdist_kwargs = {k: kwargs.pop(k) for k in ("filename", "top", "with_pkg_info") if k in kwargs}
    filename, content = make_sdist(name, version, **sdist_kwargs)
    kwargs = {"filetype": "sdist", "pyversion": "source", **kwargs}
    return UploadRequest(filename=filename, content=content, name=name, version=version, **kwargs)


def post_upload(client, upload: UploadRequest, token: str):
    return client.post("/legacy/", upload.data(), HTTP_AUTHORIZATION=basic_auth(token))


def make_project(name: str = "demo", *, owner=None, **fields):
    from packages.models import Project, Role
    from packages.names import normalize_name, ultranormalize_name

    project = Project.objects.create(
        name=name,
        normalized_name=normalize_name(name),
        ultranormalized_name=ultranormalize_name(name),
        **fields,
    )
    if owner is not None:
        Role.objects.create(user=owner, project=project, role_name="Owner")
    return project


def make_release(project, version: str = "1.0", **fields):
    from packaging.version import Version

    from packages.models import Release
    from packages.releases import canonical_version

    return Release.objects.create(
        project=project,
        version=version,
        canonical_version=canonical_version(version),
        is_prerelease=Version(version).is_prerelease,
        sort_order=fields.pop("sort_order", 0),
        **fields,
    )


def make_files(release, count: int, *, wheel: bool = True) -> list:
    """Rows only (no stored bytes): enough for the read APIs' query and shape tests."""
    from packages.filenames import storage_path
    from packages.models import File

    prefix = sdist_name_prefix(release.project.name)
    files = []
    for i in range(count):
        filename = f"{prefix}-{release.version}-{i}-py3-none-any.whl"
        digest = hashlib.blake2b(filename.encode(), digest_size=32).hexdigest()
        files.append(
            File(
                release=release,
                filename=filename,
                path=storage_path(blake2_256=digest, filename=filename),
                size=1000 + i,
                md5_digest=hashlib.md5(filename.encode()).hexdigest(),
                sha256_digest=hashlib.sha256(filename.encode()).hexdigest(),
                blake2_256_digest=digest,
                packagetype="bdist_wheel" if wheel else "sdist",
                python_version="py3",
                metadata_sha256=hashlib.sha256(b"m" + filename.encode()).hexdigest(),
            )
        )
    return File.objects.bulk_create(files)
