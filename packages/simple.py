"""The simple repository API: PEP 503 HTML and PEP 691 JSON, with PEPs 592, 658/714, 700, 792.

Rendering is plain string building over one `values()` query, because these pages are the
hottest path of the index and a template engine per file row would dominate their cost.
"""

from __future__ import annotations

import json
from datetime import datetime
from html import escape
from json.encoder import encode_basestring_ascii as _json_string
from typing import NamedTuple
from urllib.parse import quote

from django.conf import settings
from django.http import HttpRequest

from packages.models import File, Project

API_VERSION = "1.4"
HTML = "text/html"
V1_HTML = "application/vnd.pypi.simple.v1+html"
V1_JSON = "application/vnd.pypi.simple.v1+json"
# PEP 691: `latest` aliases the newest version this server speaks.
_ALIASES = {
    "application/vnd.pypi.simple.latest+html": V1_HTML,
    "application/vnd.pypi.simple.latest+json": V1_JSON,
}
_SUPPORTED = (HTML, V1_HTML, V1_JSON)
UPLOAD_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
_JSON_STRING = json.JSONEncoder()


def negotiate(request: HttpRequest) -> str:
    """Pick a representation: `?format=` first (beyond PyPI, so a browser can ask for JSON),
    then the Accept header by q-value, then HTML. Never 406, as on PyPI."""
    # An unescaped "+" in a typed URL arrives as a space.
    requested = request.GET.get("format", "").replace(" ", "+")
    requested = _ALIASES.get(requested, requested)
    if requested in _SUPPORTED:
        return requested
    # Django ranks by q-value and specificity; on a tie the order of this tuple (HTML first).
    preferred = request.get_preferred_type((*_SUPPORTED, *_ALIASES))
    return _ALIASES.get(preferred, preferred) if preferred else HTML


class SimpleFile(NamedTuple):
    """One file as the pages list it. A tuple, not a dataclass: a page builds thousands."""

    filename: str
    url: str
    sha256: str
    size: int
    upload_time: str
    requires_python: str
    yanked: bool
    yanked_reason: str
    metadata_sha256: str
    version: str
    provenance: str | None = None


def provenance_url(*, normalized_name: str, version: str, filename: str) -> str:
    """PEP 740's Integrity API URL of a file's provenance (served by the attestations app)."""
    parts = "/".join(quote(part, safe="") for part in (normalized_name, version, filename))
    return f"{settings.SITE_URL}/integrity/{parts}/provenance"


def format_upload_time(uploaded: datetime) -> str:
    """UPLOAD_TIME_FORMAT, written as isoformat (strftime costs several µs a call, and a page
    formats one per file). Microseconds always, as %f; the fields as stored (UTC)."""
    return uploaded.isoformat(timespec="microseconds")[:26] + "Z"


def project_files(
    project: Project, *, files_url: str, hidden: frozenset[int] = frozenset()
) -> list[SimpleFile]:
    """One query for all of a project's files, in (version order, filename) order, without
    those in `hidden` (permissions.hidden_file_ids: the release-age policy)."""
    rows = (
        File.objects.filter(release__project_id=project.pk)
        .exclude(id__in=hidden)
        .order_by("release__sort_order", "filename")
        .values_list(
            "filename",
            "path",
            "sha256_digest",
            "size",
            "upload_time",
            "metadata_sha256",
            "release__version",
            "release__requires_python",
            "release__yanked",
            "release__yanked_reason",
            "has_provenance",
        )
    )
    name = project.normalized_name
    return [
        SimpleFile(
            filename,
            f"{files_url}{path}",
            sha256,
            size,
            format_upload_time(uploaded),
            requires_python,
            yanked,
            yanked_reason,
            metadata_sha256,
            version,
            (
                provenance_url(normalized_name=name, version=version, filename=filename)
                if has_provenance
                else None
            ),
        )
        for (
            filename,
            path,
            sha256,
            size,
            uploaded,
            metadata_sha256,
            version,
            requires_python,
            yanked,
            yanked_reason,
            has_provenance,
        ) in rows
    ]


def simple_file(
    project: Project,
    *,
    filename: str,
    url: str,
    sha256: str,
    size: int,
    uploaded: datetime,
    requires_python: str,
    yanked: bool,
    yanked_reason: str,
    metadata_sha256: str,
    version: str,
    has_provenance: bool,
) -> SimpleFile:
    """One file as the pages list it (the point-in-time view's rows; project_files builds
    the live view's the same way, inline)."""
    return SimpleFile(
        filename=filename,
        url=url,
        sha256=sha256,
        size=size,
        upload_time=format_upload_time(uploaded),
        requires_python=requires_python,
        yanked=yanked,
        yanked_reason=yanked_reason,
        metadata_sha256=metadata_sha256,
        version=version,
        provenance=(
            provenance_url(
                normalized_name=project.normalized_name, version=version, filename=filename
            )
            if has_provenance
            else None
        ),
    )


def render_index(
    projects: list[tuple[str, str, int]], *, serial: int, fmt: str, base_path: str = "/simple/"
) -> bytes:
    """`projects` holds (display name, normalized name, last serial), sorted by normalized name.
    Links are relative to `base_path` (the point-in-time view has its own). The live root is
    streamed from the same pieces (packages/root.py)."""
    if fmt == V1_JSON:
        items = index_json_items(projects)
        return index_json_head(serial) + items + index_json_tail()
    links = index_html_links(projects, base_path=base_path)
    return index_html_head() + links + index_html_tail(serial)


def index_json_head(serial: int) -> bytes:
    meta = json.dumps({"api-version": API_VERSION, "_last-serial": serial}, separators=(",", ":"))
    return f'{{"meta":{meta},"projects":['.encode()


def index_json_items(projects: list[tuple[str, str, int]]) -> bytes:
    """The entries of the JSON root's `projects` list, comma-separated, without brackets."""
    # What json.dumps(..., separators=(",", ":")) gives for each entry, without building an
    # encoder per entry (the JSON root has one per project).
    quote = _JSON_STRING.encode
    return ",".join(
        f'{{"name":{quote(name)},"_last-serial":{s}}}' for name, _n, s in projects
    ).encode()


def index_json_tail() -> bytes:
    return b"]}"


def index_html_head() -> bytes:
    return (
        "<!DOCTYPE html>\n<html>\n  <head>\n"
        f'    <meta name="pypi:repository-version" content="{API_VERSION}">\n'
        "    <title>Simple index</title>\n  </head>\n  <body>\n"
    ).encode()


def index_html_links(projects: list[tuple[str, str, int]], *, base_path: str = "/simple/") -> bytes:
    return "".join(
        f'    <a href="{base_path}{normalized}/">{escape(name)}</a>\n'
        for name, normalized, _s in projects
    ).encode()


def index_html_tail(serial: int) -> bytes:
    return f"  </body>\n</html>\n<!--SERIAL {serial}-->\n".encode()


def project_status(project: Project) -> dict[str, str]:
    """PEP 792's `project-status` object: the one place the simple pages and the JSON API get
    it from. `reason` only when there is one."""
    status = {"status": project.simple_status}
    if reason := project.simple_status_reason:
        status["reason"] = reason
    return status


def render_detail(project: Project, files: list[SimpleFile], *, fmt: str) -> bytes:
    status = project_status(project)
    if project.is_quarantined:
        files = []  # PEP 792: a quarantined project is listed with no files.
    if fmt == V1_JSON:
        return _render_detail_json(project, files, status)
    return _render_detail_html(project, files, status)


def _render_detail_json(project: Project, files: list[SimpleFile], status: dict) -> bytes:
    """json.dumps(payload, separators=(",", ":")) byte for byte, with each file's object
    written directly: building a dict per file cost more than the encoding."""
    head = json.dumps(
        {
            "meta": {"api-version": API_VERSION, "_last-serial": project.last_serial},
            "name": project.normalized_name,
            "project-status": status,
            # PEP 700: only versions that have files, already in PEP 440 order.
            "versions": list(dict.fromkeys(f.version for f in files)),
        },
        separators=(",", ":"),
    )
    entries = ",".join(map(_file_json, files))
    return f'{head[:-1]},"files":[{entries}]}}'.encode()


def _file_json(f: SimpleFile) -> str:
    # PEP 714 renamed the key; older pip reads the PEP 658 one (both are written).
    metadata = f'{{"sha256":"{f.metadata_sha256}"}}' if f.metadata_sha256 else "false"
    yanked = "false"
    if f.yanked:
        yanked = _json_string(f.yanked_reason) if f.yanked_reason else "true"
    return (
        f'{{"filename":{_json_string(f.filename)},"url":{_json_string(f.url)},'
        f'"hashes":{{"sha256":"{f.sha256}"}},'
        f'"requires-python":{_json_string(f.requires_python) if f.requires_python else "null"},'
        f'"size":{f.size},"upload-time":"{f.upload_time}","yanked":{yanked},'
        f'"core-metadata":{metadata},"data-dist-info-metadata":{metadata},'
        f'"provenance":{_json_string(f.provenance) if f.provenance else "null"}}}'
    )


def _render_detail_html(project: Project, files: list[SimpleFile], status: dict) -> bytes:
    lines = []
    append = lines.append
    for f in files:
        extra = ""
        if f.requires_python:
            extra = f' data-requires-python="{escape(f.requires_python)}"'
        if f.yanked:
            extra += f' data-yanked="{escape(f.yanked_reason)}"'
        if f.metadata_sha256:
            extra += (
                f' data-dist-info-metadata="sha256={f.metadata_sha256}"'
                f' data-core-metadata="sha256={f.metadata_sha256}"'
            )
        if f.provenance:
            extra += f' data-provenance="{escape(f.provenance)}"'
        append(
            f'    <a href="{escape(f.url)}#sha256={f.sha256}"{extra}>'
            f"{escape(f.filename)}</a><br />\n"
        )
    name = escape(project.normalized_name)
    reason = ""
    if "reason" in status:
        reason = (
            f'    <meta name="pypi:project-status-reason" content="{escape(status["reason"])}">\n'
        )
    return (
        "<!DOCTYPE html>\n<html>\n  <head>\n"
        f'    <meta name="pypi:repository-version" content="{API_VERSION}">\n'
        f'    <meta name="pypi:project-status" content="{status["status"]}">\n'
        f"{reason}"
        f"    <title>Links for {name}</title>\n  </head>\n  <body>\n"
        f"    <h1>Links for {name}</h1>\n"
        f"{''.join(lines)}  </body>\n</html>\n<!--SERIAL {project.last_serial}-->\n"
    ).encode()
