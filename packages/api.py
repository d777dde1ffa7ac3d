"""The JSON API (/pypi/<name>/json and /pypi/<name>/<version>/json), shaped as PyPI's."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable

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


def render_project_json(
    project: Project,
    *,
    version: str | None,
    base_url: str,
    files_url: str,
    hidden: frozenset[int] = frozenset(),
) -> bytes:
    """Four queries whatever the size of the project: releases, files, roles (the project was
    already loaded by the caller); a fifth for the name of the organization that owns it. Files
    in `hidden` (permissions.hidden_file_ids) are left out, and so is a release all of whose
    files are."""
    releases = list(Release.objects.filter(project=project).order_by("sort_order"))
    files = list(File.objects.filter(release__project=project).order_by("filename"))
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
    files: Iterable[File],
    version: str | None,
    base_url: str,
    file_url: Callable[[File], str],
) -> bytes:
    """The JSON API body from releases (in PEP 440 order) and files (by filename): the live
    view and the point-in-time view (packages/history.py) each choose them."""
    release = latest_release(releases) if version is None else _match_version(releases, version)
    if release is None:
        raise NotFound(version or project.name)

    files_by_release: dict[int, list[dict]] = defaultdict(list)
    release_by_id = {r.pk: r for r in releases}
    for file in files:
        files_by_release[file.release_id].append(
            _file_json(file, release_by_id[file.release_id], file_url(file))
        )
    roles = (
        Role.objects.filter(project=project)
        .select_related("user")
        .order_by("role_name", "user__username")
    )
    payload = {
        "info": _info_json(project, release, base_url),
        "last_serial": project.last_serial,
        # PEP 792's status object, as in the simple API (beyond PyPI's JSON API).
        "project-status": project_status(project),
        "ownership": {
            "organization": _organization_name(project),
            "roles": [{"role": r.role_name, "user": r.user.get_username()} for r in roles],
        },
        "urls": files_by_release.get(release.pk, []),
        "vulnerabilities": [],
    }
    if version is None:
        payload["releases"] = {r.version: files_by_release.get(r.pk, []) for r in releases}
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


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


def _file_json(file: File, release: Release, url: str) -> dict:
    uploaded = file.upload_time
    return {
        "comment_text": file.comment_text,
        "core-metadata": {"sha256": file.metadata_sha256} if file.metadata_sha256 else False,
        "digests": {
            "blake2b_256": file.blake2_256_digest,
            "md5": file.md5_digest,
            "sha256": file.sha256_digest,
        },
        "downloads": -1,
        "filename": file.filename,
        "has_sig": False,
        "md5_digest": file.md5_digest,
        "packagetype": file.packagetype,
        "python_version": file.python_version,
        "requires_python": release.requires_python or None,
        "size": file.size,
        "upload_time": uploaded.strftime("%Y-%m-%dT%H:%M:%S"),
        "upload_time_iso_8601": uploaded.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "url": url,
        "yanked": release.yanked,
        "yanked_reason": release.yanked_reason or None,
    }
