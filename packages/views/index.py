"""What installers and tools read: the simple API, the JSON API and the files."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotModified,
    HttpResponsePermanentRedirect,
    JsonResponse,
    StreamingHttpResponse,
)
from django.http.response import HttpResponseBase
from django.views.decorators.http import require_safe

from packages import cdn, documents, permissions, root, simple
from packages.api import NotFound, render_project_json
from packages.files import not_found, serve_file
from packages.journal import last_serial
from packages.lookups import PROJECT_FOR_READ
from packages.models import Project
from packages.names import lookup_name
from packages.releases import lookup_version
from packages.responses import (
    accepts_gzip,
    etag_matches,
    make_private,
    page_response,
    rendered_page,
)

CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET",
    "Access-Control-Expose-Headers": "X-PyPI-Last-Serial",
}


def files_base_url() -> str:
    """Where file URLs point: the configured FILES_BASE_URL (SITE_URL/packages/ by default),
    never the request's Host, which a client could forge into a cached page."""
    return settings.FILES_BASE_URL


class NoSuchProject(Exception):
    """No project by this name here: a caller may look elsewhere (an upstream index)."""


class HiddenProject(NoSuchProject):
    """A project by this name exists here but this reader may not see it. Readers get the same
    404 as for NoSuchProject, but nothing may look the name up anywhere else: the name is
    taken here, and an answer from elsewhere would tell the reader so."""


def _lookup_project(request: HttpRequest, name: str) -> Project:
    """Load only what a cache lookup needs; the page itself comes from the cache. Raises
    NoSuchProject when no project has the name, HiddenProject when this reader may not see
    the one that has it."""
    normalized = lookup_name(name)
    if normalized is None:
        raise NoSuchProject(name)
    project = PROJECT_FOR_READ.first(name=normalized)
    if project is None:
        raise NoSuchProject(name)
    if not is_readable(request, project):
        raise HiddenProject(name)
    return project


def hidden_key(hidden: frozenset[int]) -> str:
    """Part of a page's cache key: which files the release-age policy hides right now."""
    if not hidden:
        return ""
    return ":age-" + hashlib.sha256(",".join(map(str, sorted(hidden))).encode()).hexdigest()[:16]


def is_readable(request: HttpRequest, project: Project) -> bool:
    reader = permissions.reader_of(request)
    denial = permissions.see_project_denial(user=reader.user, project=project, token=reader.token)
    return denial is None


def require_readable(request: HttpRequest, project: Project) -> None:
    """404, as for a name nobody has, unless this reader may see the project. Whether a
    project exists and whether this reader may see it stay two questions, so a caller can
    tell "hidden here" from "not here" (a hidden name must never be looked up elsewhere)."""
    if not is_readable(request, project):
        raise Http404(f"No project named {project.name!r}")


def project_access(project: Project) -> str:
    """The page-cache access class of a project's own pages (packages/responses.py)."""
    return "private" if project.is_private else "public"


@require_safe
def simple_index(request: HttpRequest) -> HttpResponseBase:
    """Streamed from stored segments (packages/root.py): never the whole root in memory, and
    its ETag known without rendering."""
    fmt = simple.negotiate(request)
    serial = last_serial()
    reader = permissions.reader_of(request)
    scope = permissions.readable_scope(user=reader.user, token=reader.token)
    etag = f'"{root.root_etag(serial=serial, fmt=fmt, access=scope.access_class)}"'
    if etag_matches(request, etag):
        response = HttpResponseNotModified()
    else:
        root.refresh_segments(serial=serial)
        gzipped = accepts_gzip(request)
        chunks = (
            iter(())  # HEAD: the headers only, without reading the segments.
            if request.method == "HEAD"
            else root.stream_root(serial=serial, fmt=fmt, scope=scope, gzipped=gzipped)
        )
        response = StreamingHttpResponse(chunks, content_type=fmt)
        if gzipped:
            response["Content-Encoding"] = "gzip"
    headers = {
        **CORS,
        **cdn.simple_cache_headers(normalized_name=None),
        "ETag": etag,
        "Vary": "Accept, Accept-Encoding",
        "X-PyPI-Last-Serial": str(serial),
    }
    for name, value in headers.items():
        response[name] = value
    return response if scope == permissions.PUBLIC_SCOPE else make_private(response)


@require_safe
def simple_detail(request: HttpRequest, name: str) -> HttpResponse:
    normalized = lookup_name(name)
    if normalized is None:
        raise Http404(f"No project named {name!r}")
    if name != normalized:
        query = f"?{request.META['QUERY_STRING']}" if request.META.get("QUERY_STRING") else ""
        return HttpResponsePermanentRedirect(f"/simple/{normalized}/{query}")
    try:
        project = _lookup_project(request, name)
    except NoSuchProject:
        return not_found()
    fmt = simple.negotiate(request)
    files_url = files_base_url()
    hidden = permissions.hidden_file_ids(project=project)

    def render_detail() -> tuple[bytes, str]:
        files = simple.project_files(project, files_url=files_url, hidden=hidden)
        return simple.render_detail(project, files, fmt=fmt), fmt

    key = f"simple:{project.pk}:{project.last_serial}:{fmt}:{files_url}{hidden_key(hidden)}"
    headers = {
        **CORS,
        **cdn.simple_cache_headers(normalized_name=project.normalized_name),
        "Vary": "Accept",
        "X-PyPI-Last-Serial": str(project.last_serial),
    }
    access = project_access(project)
    source = documents.stored_source(
        project, kind=documents.kind_of_simple(fmt), content_type=fmt, hidden=hidden
    )
    page = rendered_page(
        key, render_detail, gzip_ok=accepts_gzip(request), access=access, source=source
    )
    response = page_response(request, page, headers=headers)
    return make_private(response) if project.is_private else response


@require_safe
def json_project(request: HttpRequest, name: str, version: str | None = None) -> HttpResponse:
    if version is not None and lookup_version(version) is None:
        # Not PEP 440, so no release has it; it must not reach a redirect or a cache key.
        return JsonResponse({"message": "Not Found"}, status=404, headers=CORS)
    try:
        project = _lookup_project(request, name)
    except NoSuchProject:
        return JsonResponse({"message": "Not Found"}, status=404, headers=CORS)
    if name != project.name:
        # As PyPI: the JSON API lives at the display name's spelling.
        target = f"/pypi/{project.name}/{version + '/' if version else ''}json"
        return HttpResponsePermanentRedirect(target)
    if project.is_quarantined:
        return JsonResponse({"message": "Not Found"}, status=404, headers=CORS)
    base_url = settings.SITE_URL
    files_url = files_base_url()
    hidden = permissions.hidden_file_ids(project=project)

    def render_json() -> tuple[bytes, str]:
        body = render_project_json(
            project, version=version, base_url=base_url, files_url=files_url, hidden=hidden
        )
        return body, "application/json"

    key = f"json:{project.pk}:{project.last_serial}:{version}:{files_url}{hidden_key(hidden)}"
    source = documents.stored_source(
        project,
        kind=documents.Kind.JSON_API,
        content_type="application/json",
        hidden=hidden,
        version=version,
    )
    try:
        page = rendered_page(
            key,
            render_json,
            gzip_ok=accepts_gzip(request),
            access=project_access(project),
            source=source,
        )
    except NotFound:
        return JsonResponse({"message": "Not Found"}, status=404, headers=CORS)
    headers = {
        **CORS,
        "X-PyPI-Last-Serial": str(project.last_serial),
        "Cache-Control": "max-age=900, public",
    }
    response = page_response(request, page, headers=headers)
    return make_private(response) if project.is_private else response


@require_safe
def package_file(request: HttpRequest, key: str) -> HttpResponse:
    return serve_file(request, key)
