"""Cached, compressed, conditional responses for the read APIs.

Simple and JSON API pages are rendered once per (project, last serial, format, host) and kept
with their gzip form and ETag, so a page costs the same whether the project has one file or
thousands: one small query to learn the serial, then a cache hit. A key names immutable content
(any change to a project bumps its serial), so every tier may keep an entry until it is evicted.
Keys also carry RENDER_VERSION, so pages stored by an older deploy are never served.

Tiers: a small per-process LRU (no network, no unpickling), then Django's cache (Redis in
production, shared by all app servers), then the copy stored when the project changed
(packages/documents.py, for the variant nearly every reader gets), then rendering. A page
larger than LARGE_PAGE_BYTES that has a stored copy skips the shared cache: its stored copy is
an object in storage, cheaper to send than megabytes through Redis. Up to STREAM_MIN_BYTES it
enters the per-process LRU, which costs no round trip, so the big projects pip asks for most
are served from memory like small ones. Past that, a stored object on local storage is sent
from its file (gunicorn sendfiles it) and the LRU keeps only its path, so a read skips the
database and never copies megabytes through Python (reading a 3.7 MB page into memory was a
third of a cold read); an object in a bucket, read into memory anyway, is kept as bytes.

Every key starts with an access class: `public` for what anyone may read, or the name of the
set of private projects a page was built for (permissions.ReadScope.access_class, `private`
for a private project's own pages). Views ask permissions before they ask here, and a reader
only ever reaches keys of their own class, so a page built for a member is never served to
someone else. Answers about private content say so (`make_private`).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Protocol

from django.core.cache import cache
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseNotModified
from django.utils.cache import patch_vary_headers
from django.utils.http import parse_etags

from packages.storage import open_local_file
from pypi_site import metrics


def _render_version() -> str:
    """A fingerprint of the code that renders cached pages, so a deploy that changes their
    format never serves pages the previous version stored in the shared cache."""
    digest = hashlib.sha256()
    for module in ("simple.py", "api.py", "responses.py", "root.py"):
        digest.update((Path(__file__).parent / module).read_bytes())
    return digest.hexdigest()[:12]


RENDER_VERSION = _render_version()
# Below this size gzip costs more than it saves.
GZIP_MIN_SIZE = 1024
CACHE_SECONDS = 24 * 3600
LOCAL_CACHE_BYTES = 64 * 1024 * 1024
# Past this (the identity body; the largest few thousand projects), a stored document lives in
# storage, not in its row, and the page is not put in the shared cache when such a copy serves
# it: a Redis round trip of megabytes (~12 ms for 3.7 MB) costs more than opening the object.
LARGE_PAGE_BYTES = 256 * 1024
# Past this, a stored page on local storage is sent from its file (see above). Below it the
# bytes in memory are cheaper: an open, a stat and a sendfile per read cost more than they save.
STREAM_MIN_BYTES = 1024 * 1024
# What an entry of the per-process LRU costs besides its body: a path-only entry is not free.
LOCAL_ENTRY_OVERHEAD = 512


@dataclass(frozen=True)
class RenderedPage:
    """A page's bytes, or for a stored large document (packages/documents.py) an open `file`
    holding them (then `body` is empty): sent as a stream, which a server may sendfile. A file
    is read once, so the per-process tier keeps a copy with only its `path`, which each read
    opens again."""

    body: bytes
    etag: str
    content_type: str
    gzipped: bool = False
    file: IO[bytes] | None = field(default=None, compare=False)
    path: str | None = None

    @property
    def size(self) -> int:
        return len(self.body)

    @property
    def footprint(self) -> int:
        """What it costs the per-process tier."""
        return len(self.body) + LOCAL_ENTRY_OVERHEAD


class _LocalPages:
    """A byte-bounded LRU shared by the threads of one process."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.pages: OrderedDict[str, RenderedPage] = OrderedDict()
        self.total = 0
        self.lock = threading.Lock()

    def get(self, key: str) -> RenderedPage | None:
        with self.lock:
            page = self.pages.get(key)
            if page is not None:
                self.pages.move_to_end(key)
            return page

    @property
    def max_entry_bytes(self) -> int:
        return self.max_bytes // 8

    def put(self, key: str, page: RenderedPage) -> None:
        if page.size > self.max_entry_bytes or page.file is not None:
            return
        with self.lock:
            old = self.pages.pop(key, None)
            self.total += page.footprint - (old.footprint if old else 0)
            self.pages[key] = page
            while self.total > self.max_bytes:
                _key, evicted = self.pages.popitem(last=False)
                self.total -= evicted.footprint

    def discard(self, key: str) -> None:
        with self.lock:
            old = self.pages.pop(key, None)
            if old is not None:
                self.total -= old.footprint

    def clear(self) -> None:
        with self.lock:
            self.pages.clear()
            self.total = 0


local_pages = _LocalPages(LOCAL_CACHE_BYTES)


class PageSource(Protocol):
    """Where pages rendered ahead of time are kept (packages/documents.py): consulted after
    the caches and before rendering, and given what had to be rendered after all."""

    def load(self, *, gzip_ok: bool) -> RenderedPage | None: ...

    def save(self, plain: RenderedPage, packed: RenderedPage) -> None: ...


def pack_page(body: bytes, *, content_type: str) -> tuple[RenderedPage, RenderedPage]:
    """A rendered body's identity and gzip forms (the same page when too small to compress),
    with its ETag."""
    etag = f'"{hashlib.md5(body, usedforsecurity=False).hexdigest()}"'
    plain = RenderedPage(body=body, etag=etag, content_type=content_type)
    if len(body) < GZIP_MIN_SIZE:
        return plain, plain
    packed = RenderedPage(
        body=gzip.compress(body, compresslevel=6, mtime=0),
        etag=etag,
        content_type=content_type,
        gzipped=True,
    )
    return plain, packed


def rendered_page(
    key: str,
    render: Callable[[], tuple[bytes, str]],
    *,
    gzip_ok: bool,
    access: str = "public",
    source: PageSource | None = None,
) -> RenderedPage:
    """The page for `key`, compressed when the client accepts gzip and it is worth it.

    Identity and gzip forms are cached under separate keys so a hit moves only the bytes the
    client will receive. With a `source`, a page neither cache has comes from it when it has
    a current copy; a page rendered here is given to it, so the next reader need not render.
    """
    key = f"{RENDER_VERSION}:{access}:{key}"
    wanted = f"{key}|{'gzip' if gzip_ok else 'identity'}"
    page = local_pages.get(wanted)
    if page is not None and page.path is not None:
        page = _reopen(page)
        if page is None:
            local_pages.discard(wanted)  # Replaced and deleted: ask the other tiers.
    if page is not None:
        metrics.PAGE_CACHE_HITS.labels(tier="local").inc()
        return page
    page = cache.get(wanted)
    if page is not None:
        metrics.PAGE_CACHE_HITS.labels(tier="shared").inc()
    elif source is not None and (page := source.load(gzip_ok=gzip_ok)) is not None:
        metrics.PAGE_CACHE_HITS.labels(tier="stored").inc()
        if page.file is not None:
            page = _read_unless_streamed(page, limit=local_pages.max_entry_bytes)
            if page.file is not None:
                if page.path is not None:
                    local_pages.put(wanted, replace(page, file=None))
                return page
        else:
            cache.set(wanted, page, CACHE_SECONDS)
    else:
        metrics.PAGE_CACHE_MISSES.inc()
        body, content_type = render()
        plain, packed = pack_page(body, content_type=content_type)
        if source is None or plain.size <= LARGE_PAGE_BYTES:
            cache.set_many({f"{key}|identity": plain, f"{key}|gzip": packed}, CACHE_SECONDS)
        if source is not None:
            source.save(plain, packed)
        page = packed if gzip_ok else plain
    local_pages.put(wanted, page)
    return page


def _read_unless_streamed(page: RenderedPage, *, limit: int) -> RenderedPage:
    """A stored page open as a file: kept a file, with its `path`, when it is a file on this
    machine of more than STREAM_MIN_BYTES (to be sent from the file) or of more than `limit`
    (too big for the per-process tier); otherwise read into memory, for that tier."""
    file = page.file
    size = file.seek(0, io.SEEK_END)
    file.seek(0)
    path = _local_path(file)
    if path is not None and size > STREAM_MIN_BYTES:
        return replace(page, path=path)
    if size > limit:
        return page
    with file:
        body = file.read()
    return replace(page, body=body, file=None)


def _local_path(file: IO[bytes]) -> str | None:
    """The path of a file opened from local storage; None for bytes read from a bucket."""
    name = getattr(file, "name", None)
    return name if isinstance(name, str) and isinstance(file, io.BufferedReader) else None


def _reopen(page: RenderedPage) -> RenderedPage | None:
    file = open_local_file(page.path)
    return None if file is None else replace(page, file=file)


def accepts_gzip(request: HttpRequest) -> bool:
    return "gzip" in request.META.get("HTTP_ACCEPT_ENCODING", "")


def page_response(
    request: HttpRequest, page: RenderedPage, *, headers: dict[str, str]
) -> HttpResponse:
    vary = headers.pop("Vary", "")
    if page.etag in _if_none_match(request):
        if page.file is not None:
            page.file.close()
        response = HttpResponseNotModified()
    elif page.file is not None:
        response = FileResponse(page.file, content_type=page.content_type)
        # The object's file name is no business of the client's.
        response.headers.pop("Content-Disposition", None)
        if page.gzipped:
            response["Content-Encoding"] = "gzip"
    else:
        response = HttpResponse(page.body, content_type=page.content_type)
        if page.gzipped:
            response["Content-Encoding"] = "gzip"
    response["ETag"] = page.etag
    response["Vary"] = ", ".join(v for v in (vary, "Accept-Encoding") if v)
    for name, value in headers.items():
        response[name] = value
    return response


def etag_matches(request: HttpRequest, etag: str) -> bool:
    """Whether If-None-Match names `etag` (quoted), so the answer is a 304."""
    return etag in _if_none_match(request)


def _if_none_match(request: HttpRequest) -> set[str]:
    # A weak match is enough for GET (RFC 9110 13.1.2).
    tags = parse_etags(request.META.get("HTTP_IF_NONE_MATCH", ""))
    return {tag.removeprefix("W/") for tag in tags}


# For one reader only: browsers and pip may keep it but must ask again (an ETag makes that a
# 304), shared caches and CDNs must not keep it at all.
PRIVATE_CACHE_CONTROL = "private, no-cache"
CDN_HEADERS = ("Surrogate-Control", "Surrogate-Key", "CDN-Cache-Control")


def make_private(response: HttpResponse) -> HttpResponse:
    """Mark an answer about private content (or on a private index) as for this reader only."""
    if "no-store" not in response.get("Cache-Control", ""):
        response["Cache-Control"] = PRIVATE_CACHE_CONTROL
    for name in CDN_HEADERS:
        if name in response:
            del response[name]
    patch_vary_headers(response, ("Authorization", "Cookie"))
    return response
