"""The point-in-time view, `/as-of/<moment>/...`: the simple API, the JSON API and the files as
they were at a moment (packages/history.py chooses the rows; the live renderers, caches and
permission questions do the rest)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime

from django.conf import settings
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponsePermanentRedirect,
    JsonResponse,
)
from django.utils.encoding import iri_to_uri
from django.views.decorators.http import require_safe

from packages import cdn, history, permissions, simple
from packages.api import NotFound, project_json
from packages.files import not_found, serve_stored
from packages.journal import last_serial
from packages.models import File, Project
from packages.names import lookup_name
from packages.releases import lookup_version
from packages.responses import accepts_gzip, make_private, page_response, rendered_page
from packages.views.index import (
    CORS,
    files_base_url,
    hidden_key,
    is_readable,
    project_access,
)

# A file served here may be purged later (malware, legal): caches must ask again soon.
FILE_CACHE = "public, max-age=600"


def _query(request: HttpRequest) -> str:
    return f"?{request.META['QUERY_STRING']}" if request.META.get("QUERY_STRING") else ""


def with_moment(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Parse the URL's moment for `view`: 400 or 404 with the reason in a plain-text body, a 301
    from any other spelling of it to the canonical one (so caches hold one copy)."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, moment: str, **kwargs: str) -> HttpResponse:
        try:
            parsed = history.parse_moment(moment)
        except history.MomentError as exc:
            response = HttpResponse(
                exc.message, status=exc.status, content_type="text/plain; charset=utf-8"
            )
            response["Cache-Control"] = "no-store"  # A future moment arrives.
            return response
        canonical = history.format_moment(parsed)
        if canonical != moment:
            rest = request.path_info.split("/", 3)[3]  # after "/as-of/<moment>/"
            return HttpResponsePermanentRedirect(
                iri_to_uri(f"/as-of/{canonical}/{rest}") + _query(request)
            )
        return view(request, parsed, **kwargs)

    return wrapper


def _project_at(request: HttpRequest, normalized: str, moment: datetime) -> Project | None:
    """The project under this name at `moment`, if the requester may see it: the live rule
    (permissions.see_project_denial, with Basic credentials too). A quarantined project is
    shown as the live simple page shows it (PEP 792: listed, no files); the callers handle that
    as the live views do."""
    project = history.project_at(normalized, moment)
    if project is None or not is_readable(request, project):
        return None
    return project


@require_safe
@with_moment
def simple_index(request: HttpRequest, moment: datetime) -> HttpResponse:
    fmt = simple.negotiate(request)
    serial = last_serial()
    stamp = history.format_moment(moment)
    reader = permissions.reader_of(request)
    scope = permissions.readable_scope(user=reader.user, token=reader.token)

    def render() -> tuple[bytes, str]:
        projects = history.index_at(moment, scope=scope)
        base_path = f"{history.moment_prefix(moment)}/simple/"
        return simple.render_index(projects, serial=serial, fmt=fmt, base_path=base_path), fmt

    page = rendered_page(
        f"as-of-index:{serial}:{stamp}:{fmt}",
        render,
        gzip_ok=accepts_gzip(request),
        access=scope.access_class,
    )
    headers = {
        **CORS,
        **cdn.simple_cache_headers(normalized_name=None),
        "Vary": "Accept",
        "X-PyPI-Last-Serial": str(serial),
    }
    response = page_response(request, page, headers=headers)
    return response if scope == permissions.PUBLIC_SCOPE else make_private(response)


@require_safe
@with_moment
def simple_detail(request: HttpRequest, moment: datetime, name: str) -> HttpResponse:
    normalized = lookup_name(name)
    if normalized is None:
        raise Http404(f"No project named {name!r}")
    if name != normalized:
        target = f"{history.moment_prefix(moment)}/simple/{normalized}/"
        return HttpResponsePermanentRedirect(target + _query(request))
    project = _project_at(request, normalized, moment)
    if project is None:
        raise Http404(f"No project named {name!r} at {history.format_moment(moment)}")
    fmt = simple.negotiate(request)
    files_url = files_base_url()
    hidden = permissions.hidden_file_ids(project=project)

    def render() -> tuple[bytes, str]:
        files = history.project_files_at(project, moment, files_url=files_url, hidden=hidden)
        return simple.render_detail(project, files, fmt=fmt), fmt

    stamp = history.format_moment(moment)
    # The project's serial moves with every change, purges included, so a removal shows at once.
    key = (
        f"as-of-simple:{project.pk}:{project.last_serial}:{stamp}:{fmt}:{files_url}"
        f"{hidden_key(hidden)}"
    )
    access = project_access(project)
    page = rendered_page(key, render, gzip_ok=accepts_gzip(request), access=access)
    headers = {
        **CORS,
        # The live page's surrogate key: a change to the project purges its past views too.
        **cdn.simple_cache_headers(normalized_name=project.normalized_name),
        "Vary": "Accept",
        "X-PyPI-Last-Serial": str(project.last_serial),
    }
    response = page_response(request, page, headers=headers)
    return make_private(response) if project.is_private else response


@require_safe
@with_moment
def json_project(
    request: HttpRequest, moment: datetime, name: str, version: str | None = None
) -> HttpResponse:
    missing = JsonResponse({"message": "Not Found"}, status=404, headers=CORS)
    if version is not None and lookup_version(version) is None:
        return missing
    normalized = lookup_name(name)
    project = _project_at(request, normalized, moment) if normalized else None
    if project is None:
        return missing
    if name != project.name:
        target = f"{history.moment_prefix(moment)}/pypi/{project.name}/"
        return HttpResponsePermanentRedirect(
            iri_to_uri(f"{target}{version + '/' if version else ''}json")
        )
    if project.is_quarantined:
        return missing
    files_url = files_base_url()

    def file_url(file: File) -> str:
        if file.deleted_at is not None:
            return history.deleted_file_url(file.path, moment)
        return f"{files_url}{file.path}"

    hidden = permissions.hidden_file_ids(project=project)

    def render() -> tuple[bytes, str]:
        releases, files = history.releases_at(project, moment, hidden=hidden)
        body = project_json(
            project,
            releases=releases,
            files=files,
            version=version,
            base_url=settings.SITE_URL,
            file_url=file_url,
        )
        return body, "application/json"

    stamp = history.format_moment(moment)
    key = (
        f"as-of-json:{project.pk}:{project.last_serial}:{stamp}:{version}:{files_url}"
        f"{hidden_key(hidden)}"
    )
    try:
        page = rendered_page(
            key, render, gzip_ok=accepts_gzip(request), access=project_access(project)
        )
    except NotFound:
        return missing
    headers = {
        **CORS,
        "X-PyPI-Last-Serial": str(project.last_serial),
        "Cache-Control": "max-age=900, public",
    }
    response = page_response(request, page, headers=headers)
    return make_private(response) if project.is_private else response


@require_safe
@with_moment
def package_file(request: HttpRequest, moment: datetime, key: str) -> HttpResponse:
    """A file as the page at `moment` links it: also one deleted since, while its bytes are
    kept (a purge removes both). The live URL of a deleted file stays 404."""
    file = history.file_at(key, moment)
    if file is None:
        return not_found()
    return serve_stored(request, file=file, key=key, public_cache=FILE_CACHE)
