"""The simple, JSON and file routes with the proxy in front of packages' own views.

With UPSTREAM_INDEX_URL unset each view hands the request straight to packages (no lookup, no
outbound request). Set, a name with a local project is packages' alone (a project the reader
may not see answers 404 there, never the upstream's copy); any other name is made fresh from
the upstream first (proxy.mirror), then packages renders the mirrored rows with the same code.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_safe

from packages import permissions
from packages.files import METADATA_SUFFIX, published_file
from packages.models import File, Origin, Project
from packages.names import lookup_name
from packages.views import index
from proxy import downloads, mirror, upstream
from pypi_site import metrics

STALE_HEADER = "X-Upstream-Stale"


def _resolve(name: str, *, json: bool) -> tuple[HttpResponse | None, str]:
    """(a response to send instead of packages' view, or None; the stale reason)."""
    normalized = lookup_name(name)
    if normalized is None or len(normalized) > upstream.MAX_NAME_LENGTH:
        return None, ""  # no project can have it: packages' 404
    # One query answers the usual cases: a local project, or a copy young enough to serve.
    row = (
        Project.objects.filter(normalized_name=normalized)
        .values_list("origin", "upstream_state__fetched_at", "upstream_state__blocked")
        .first()
    )
    if row is not None and row[0] == Origin.LOCAL:
        return None, ""
    if row is not None and mirror.is_fresh(row[1]) and not row[2]:
        metrics.PROXY_PAGES.labels(result="fresh").inc()
        return None, ""
    resolved = mirror.resolve(normalized)
    if resolved.blocked:
        message = f"Project {normalized!r} is blocked on this index: {resolved.blocked}"
        return _answer(message, 404, json=json), ""
    if resolved.error:
        message = f"The upstream index could not be reached for {normalized!r}: {resolved.error}"
        return _answer(message, 502, json=json), ""
    return None, resolved.stale


def _answer(message: str, status: int, *, json: bool) -> HttpResponse:
    if json:
        response = JsonResponse({"message": message}, status=status)
    else:
        response = HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")
    response["Cache-Control"] = "no-store"
    return response


def _mark_stale(response: HttpResponse, stale: str) -> HttpResponse:
    if stale:
        response[STALE_HEADER] = f"upstream failed, serving the last good copy: {stale}"[:500]
    return response


@require_safe
def simple_detail(request: HttpRequest, name: str) -> HttpResponse:
    if not upstream.enabled() or name != lookup_name(name):
        return index.simple_detail(request, name)  # 301 to the normalized name, or 404
    refused, stale = _resolve(name, json=False)
    return refused or _mark_stale(index.simple_detail(request, name), stale)


@require_safe
def json_project(request: HttpRequest, name: str, version: str | None = None) -> HttpResponse:
    if not upstream.enabled():
        return index.json_project(request, name, version)
    refused, stale = _resolve(name, json=True)
    return refused or _mark_stale(index.json_project(request, name, version), stale)


@require_safe
def package_file(request: HttpRequest, key: str) -> HttpResponse:
    """A mirrored file not yet in storage is fetched on this first download; everything else
    (and every refusal: release age, quarantine) is packages.files' answer."""
    if not upstream.enabled():
        return index.package_file(request, key)
    file = published_file(key)
    if file is None or not file.release.project.is_upstream:
        return index.package_file(request, key)
    project = file.release.project
    if permissions.file_age_denial(project=project, file=file) is not None:
        return index.package_file(request, key)
    if permissions.see_project_denial(user=request.user, project=project) is not None:
        return index.package_file(request, key)
    # published_file loaded only what the checks need; the download needs the whole row.
    full = File.objects.select_related("release").get(pk=file.pk)
    response = downloads.serve_uncached(request, file=full, metadata=key.endswith(METADATA_SUFFIX))
    return response or index.package_file(request, key)
