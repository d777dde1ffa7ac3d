"""Plain helpers that make rows and tokens for tests, and upload requests for Django's test client
(the files and the form come from tests/dists.py)."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.tokens import create_api_token
from packages.names import sdist_name_prefix
from packages.search_documents import refresh_search_documents
from tests.dists import CONTENT_TYPE, make_sdist, make_wheel, upload_form


def make_user(username: str = "alice", **fields):
    return get_user_model().objects.create_user(
        username=username, email=f"{username}@example.com", password="pw-not-used", **fields
    )


def make_token(user, *, projects=()) -> str:
    return create_api_token(user=user, projects=projects).plaintext


def basic_auth(token: str, username: str = "__token__") -> str:
    return "Basic " + base64.b64encode(f"{username}:{token}".encode()).decode()


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
    content_type: str = CONTENT_TYPE
    digests: bool = True

    def data(self) -> dict:
        form: dict = upload_form(
            name=self.name,
            version=self.version,
            content=self.content,
            filetype=self.filetype,
            pyversion=self.pyversion,
            digests=self.digests,
        )
        form["content"] = SimpleUploadedFile(self.filename, self.content, self.content_type)
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
    refresh_search_documents(project_ids=[project.pk])
    return project


def make_release(project, version: str = "1.0", **fields):
    from packaging.version import Version

    from packages.models import Release
    from packages.releases import canonical_version

    release = Release.objects.create(
        project=project,
        version=version,
        canonical_version=canonical_version(version),
        is_prerelease=Version(version).is_prerelease,
        sort_order=fields.pop("sort_order", 0),
        **fields,
    )
    # What journal.record_change does for a release published through packages/releases.py.
    refresh_search_documents(project_ids=[project.pk])
    return release


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


def make_organization(name: str = "acme", *, owner=None, status: str = "approved", **fields):
    """An organization (approved unless told), with `owner` as its Owner."""
    from organizations.models import Organization, OrganizationRole

    organization = Organization.objects.create(
        name=name,
        normalized_name=name.lower(),
        display_name=fields.pop("display_name", name.title()),
        link_url=fields.pop("link_url", "https://example.com/"),
        description=fields.pop("description", f"The {name} organization."),
        status=status,
        **fields,
    )
    if owner is not None:
        OrganizationRole.objects.create(user=owner, organization=organization, role_name="Owner")
    return organization


def make_team(organization, name: str = "core", *, members=()):
    from organizations.models import Team, TeamMember

    team = Team.objects.create(organization=organization, name=name, normalized_name=name.lower())
    for user in members:
        TeamMember.objects.create(team=team, user=user)
    return team
