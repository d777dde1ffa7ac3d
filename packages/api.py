"""The JSON API (/pypi/<name>/json and /pypi/<name>/<version>/json), shaped as PyPI's."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import datetime
from json.encoder import encode_basestring_ascii as _string
from typing import NamedTuple

from django.urls import reverse

from organizations.models import Organization
from packages.models import File, Project, Release, Role
from packages.simple import project_status
from packages.versions import lookup_version


class NotFound(LookupError):
    pass


def latest_release(releases: list[Release]) -> Release | None:
    """Non-yanked first, then final releases, then the highest PEP 440 version (as PyPI)."""
    if not releases:
        return None
    return max(releases, key=lambda r: (not r.yanked, not r.is_prerelease, r.sort_order))


def _organization_name(project: Project) -> str | None:
    if project.organization_id is None:
        return None
    return Organization.objects.filter(pk=project.organization_id).values_list("name", flat=True)[0]


class FileRow(NamedTuple):
    """A file as the JSON API reads it, named as File's fields so that File rows (the
    point-in-time view's) serve as well: a tuple per file costs far less than a model."""

    pk: int
    release_id: int
    filename: str
    path: str
    size: int
    md5_digest: str
    sha256_digest: str
    blake2_256_digest: str | None
    packagetype: str
    python_version: str
    comment_text: str
    upload_time: datetime
    metadata_sha256: str


# Fields of each release the document reads besides the chosen release's `info`.
_LISTED_RELEASE_FIELDS = (
    "id",
    "project_id",
    "version",
    "canonical_version",
    "sort_order",
    "is_prerelease",
    "requires_python",
    "yanked",
    "yanked_reason",
)


def render_project_json(
    project: Project,
    *,
    version: str | None,
    base_url: str,
    files_url: str,
    hidden: frozenset[int] = frozenset(),
) -> bytes:
    """Five queries whatever the size of the project: releases (light), files, the chosen
    release in full, roles (the project was already loaded by the caller); a sixth for the
    name of the organization that owns it. Files in `hidden` (permissions.hidden_file_ids)
    are left out, and so is a release all of whose files are."""
    releases = list(
        Release.objects.filter(project=project).order_by("sort_order").only(*_LISTED_RELEASE_FIELDS)
    )
    files = [
        FileRow._make(row)
        for row in File.objects.filter(release__project=project)
        .order_by("filename")
        .values_list(*FileRow._fields)
    ]
    if hidden:
        # A release all of whose files the release-age policy hides is left out too.
        shown = [file for file in files if file.pk not in hidden]
        with_shown = {file.release_id for file in shown}
        held_back = {file.release_id for file in files if file.pk in hidden} - with_shown
        releases = [release for release in releases if release.pk not in held_back]
        files = shown
    return project_json(
        project,
        releases=releases,
        files=files,
        version=version,
        base_url=base_url,
        file_url=lambda file: f"{files_url}{file.path}",
    )


def project_json(
    project: Project,
    *,
    releases: list[Release],
    files: Iterable[File | FileRow],
    version: str | None,
    base_url: str,
    file_url: Callable[[File | FileRow], str],
) -> bytes:
    """The JSON API body from releases (in PEP 440 order) and files (by filename): the live
    view and the point-in-time view (packages/history.py) each choose them. Releases may come
    with only their listed fields loaded; the chosen one is then loaded in full.

    The body is json.dumps(payload, sort_keys=True, separators=(",", ":")) byte for byte, with
    each file's object written directly (in sorted key order): a dict per file cost more than
    the encoding."""
    release = latest_release(releases) if version is None else _match_version(releases, version)
    if release is None:
        raise NotFound(version or project.name)
    if release.get_deferred_fields():
        release = Release.objects.get(pk=release.pk)

    entries: dict[int, list[str]] = defaultdict(list)
    release_parts = {r.pk: _release_parts(r) for r in releases}
    for file in files:
        requires_python, yanked = release_parts[file.release_id]
        entries[file.release_id].append(
            _file_json(file, file_url(file), requires_python=requires_python, yanked=yanked)
        )
    roles = (
        Role.objects.filter(project=project)
        .select_related("user")
        .order_by("role_name", "user__username")
    )
    ownership = {
        "organization": _organization_name(project),
        "roles": [{"role": r.role_name, "user": r.user.get_username()} for r in roles],
    }
    parts = [
        '{"info":',
        _dumps(_info_json(project, release, base_url)),
        f',"last_serial":{_dumps(project.last_serial)},"ownership":',
        _dumps(ownership),
        # PEP 792's status object, as in the simple API (beyond PyPI's JSON API).
        ',"project-status":',
        _dumps(project_status(project)),
    ]
    if version is None:
        by_version = sorted(releases, key=lambda r: r.version)
        listed = ",".join(f"{_string(r.version)}:[{','.join(entries[r.pk])}]" for r in by_version)
        parts.append(f',"releases":{{{listed}}}')
    parts.append(f',"urls":[{",".join(entries[release.pk])}],"vulnerabilities":[]}}')
    return "".join(parts).encode()


def _dumps(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _release_parts(release: Release) -> tuple[str, str]:
    """What each of a release's file objects repeats: requires_python, yanked and its reason."""
    requires_python = _string(release.requires_python) if release.requires_python else "null"
    reason = _string(release.yanked_reason) if release.yanked_reason else "null"
    yanked = f'"yanked":{"true" if release.yanked else "false"},"yanked_reason":{reason}'
    return requires_python, yanked


def _match_version(releases: list[Release], version: str) -> Release | None:
    exact = [r for r in releases if r.version == version]
    if exact:
        return exact[0]
    canonical = lookup_version(version)
    return next((r for r in releases if r.canonical_version == canonical), None)


def _info_json(project: Project, release: Release, base_url: str) -> dict:
    project_path = reverse("project-detail", args=[project.name])
    project_urls = {}
    if release.home_page:
        project_urls["Homepage"] = release.home_page
    if release.download_url:
        project_urls["Download"] = release.download_url
    project_urls.update(release.project_urls)
    return {
        "author": release.author,
        "author_email": release.author_email,
        "bugtrack_url": None,
        "classifiers": release.classifiers,
        "description": release.description,
        "description_content_type": release.description_content_type or None,
        "docs_url": None,
        "download_url": release.download_url,
        "downloads": {"last_day": -1, "last_month": -1, "last_week": -1},
        "dynamic": release.dynamic or None,
        "home_page": release.home_page,
        "keywords": release.keywords,
        "license": release.license or None,
        "license_expression": release.license_expression or None,
        "license_files": release.license_files or None,
        "maintainer": release.maintainer,
        "maintainer_email": release.maintainer_email,
        "name": project.name,
        "package_url": f"{base_url}{project_path}",
        "platform": ", ".join(release.platforms) or None,
        "project_url": f"{base_url}{project_path}",
        "project_urls": project_urls or None,
        "provides_extra": release.provides_extra or None,
        "release_url": f"{base_url}{project_path}{release.version}/",
        "requires_dist": release.requires_dist or None,
        "requires_python": release.requires_python or None,
        "summary": release.summary,
        "version": release.version,
        "yanked": release.yanked,
        "yanked_reason": release.yanked_reason or None,
    }


def _file_json(file: File | FileRow, url: str, *, requires_python: str, yanked: str) -> str:
    # isoformat, not strftime (several µs a call): "YYYY-MM-DDTHH:MM:SS.ffffff+00:00".
    uploaded = file.upload_time.isoformat(timespec="microseconds")
    metadata = f'{{"sha256":"{file.metadata_sha256}"}}' if file.metadata_sha256 else "false"
    md5 = _string(file.md5_digest)
    blake2 = "null" if file.blake2_256_digest is None else _string(file.blake2_256_digest)
    return (
        f'{{"comment_text":{_string(file.comment_text)},"core-metadata":{metadata},'
        f'"digests":{{"blake2b_256":{blake2},"md5":{md5},'
        f'"sha256":{_string(file.sha256_digest)}}},"downloads":-1,'
        f'"filename":{_string(file.filename)},"has_sig":false,"md5_digest":{md5},'
        f'"packagetype":{_string(file.packagetype)},'
        f'"python_version":{_string(file.python_version)},'
        f'"requires_python":{requires_python},"size":{file.size},'
        f'"upload_time":"{uploaded[:19]}","upload_time_iso_8601":"{uploaded[:26]}Z",'
        f'"url":{_string(url)},{yanked}}}'
    )
