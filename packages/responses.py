"""Cached, compressed, conditional responses for the read APIs.

Simple and JSON API pages are rendered once per (project, last serial, format, host) and kept in
the cache together with their gzip form and ETag, so a page costs the same whether the project
has one file or thousands: one small query to learn the serial, then a cache hit.
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, HttpResponseNotModified

# Below this size gzip costs more than it saves.
GZIP_MIN_SIZE = 1024
CACHE_SECONDS = 24 * 3600


@dataclass(frozen=True)
class RenderedPage:
    body: bytes
    gzipped: bytes | None
    etag: str
    content_type: str


def rendered_page(key: str, render: Callable[[], tuple[bytes, str]]) -> RenderedPage:
    page = cache.get(key)
    if page is None:
        body, content_type = render()
        page = RenderedPage(
            body=body,
            gzipped=gzip.compress(body, compresslevel=6, mtime=0)
            if len(body) >= GZIP_MIN_SIZE
            else None,
            etag=f'"{hashlib.md5(body, usedforsecurity=False).hexdigest()}"',
            content_type=content_type,
        )
        cache.set(key, page, CACHE_SECONDS)
    return page


def page_response(
    request: HttpRequest, page: RenderedPage, *, headers: dict[str, str]
) -> HttpResponse:
    vary = headers.pop("Vary", "")
    if page.etag in _if_none_match(request):
        response = HttpResponseNotModified()
        response["ETag"] = page.etag
    elif page.gzipped is not None and "gzip" in request.META.get("HTTP_ACCEPT_ENCODING", ""):
        response = HttpResponse(page.gzipped, content_type=page.content_type)
        response["Content-Encoding"] = "gzip"
    else:
        response = HttpResponse(page.body, content_type=page.content_type)
    response["ETag"] = page.etag
    response["Vary"] = ", ".join(v for v in (vary, "Accept-Encoding") if v)
    for name, value in headers.items():
        response[name] = value
    return response


def _if_none_match(request: HttpRequest) -> set[str]:
    header = request.META.get("HTTP_IF_NONE_MATCH", "")
    return {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}
