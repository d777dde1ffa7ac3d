"""Serving stored distributions: HTTP Range for local storage, a redirect for object storage.

pip and uv read a wheel's central directory with Range requests, so local serving must answer
206 with a correct Content-Range. The key in the URL is content-addressed and never reused,
which makes every public response immutable.

The database, not the storage, says what is published: a key is served only while a File row
has it and its project may be seen. A deleted file is gone even if its object lingers in
storage (deletion removes objects after the commit, and a failed delete leaves an orphan), and
a quarantined project's files are for its members and staff only. Those answers must never be
cached publicly, so a CDN in front stops serving a file once it is removed or quarantined.
"""

from __future__ import annotations

import re

from django.core.files.storage import FileSystemStorage, storages
from django.db.models import QuerySet
from django.http import (
    FileResponse,
    HttpRequest,
    HttpResponse,
    HttpResponseForbidden,
    HttpResponseNotFound,
    HttpResponseRedirect,
    StreamingHttpResponse,
)

from packages import permissions
from packages.models import File
from pypi_site import metrics

IMMUTABLE = "public, max-age=31536000, immutable"
# Members' and staff's view of a quarantined or private project: for that reader only, never
# stored.
PRIVATE = "private, no-store"
# The answer depends on who asks (packages/responses.py sends the same for private pages).
PRIVATE_VARY = "Authorization, Cookie"
# A missing file may be removed content a cache must drop, or a key still to be uploaded.
NOT_FOUND = "no-store"
METADATA_SUFFIX = ".metadata"  # PEP 658: the wheel's METADATA beside it
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
CHUNK = 64 * 1024


def published_file(key: str) -> File | None:
    """The live File whose bytes (or PEP 658 metadata) `key` names, with its project: one
    query on the unique `path`. None for anything else, NUL bytes and overlong keys included
    (PostgreSQL refuses NUL in a query, and no stored path has one)."""
    return file_by_key(key, queryset=File.objects.all())


def file_by_key(key: str, *, queryset: QuerySet) -> File | None:
    """The File of `queryset` whose bytes or metadata `key` names (see published_file)."""
    path = key.removesuffix(METADATA_SUFFIX)
    is_metadata = path != key
    if "\x00" in path or len(path) > File._meta.get_field("path").max_length:
        return None
    file = (
        queryset.filter(path=path)
        .select_related("release__project")
        .only(
            "path",
            "metadata_sha256",
            "filename",
            "upstream_upload_time",
            "release__canonical_version",
            "release__project__name",
            "release__project__normalized_name",
            "release__project__lifecycle_status",
            "release__project__origin",
            "release__project__is_private",
            "release__project__organization",
        )
        .first()
    )
    if file is None or (is_metadata and not file.metadata_sha256):
        return None
    return file


def serve_file(request: HttpRequest, key: str) -> HttpResponse:
    """1. 404 unless a live File has the key and the requester may see its project.
    2. Object storage: redirect to the object. Local storage: the bytes, or a Range of them.
    Public answers are immutable; a quarantined project's, for its members, are private."""
    file = published_file(key)
    if file is None:
        return not_found()
    return serve_stored(request, file=file, key=key, public_cache=IMMUTABLE)


def serve_stored(
    request: HttpRequest, *, file: File, key: str, public_cache: str = IMMUTABLE
) -> HttpResponse:
    """Serve `key` of a File the caller found, if the requester may see its project.
    `public_cache` is the Cache-Control of an answer anyone may see."""
    project = file.release.project
    if (denial := permissions.file_age_denial(project=project, file=file)) is not None:
        return forbidden(denial.message)
    if project.is_quarantined or project.is_private:
        reader = permissions.reader_of(request)
        if permissions.see_files_denial(user=reader.user, project=project, token=reader.token):
            return not_found()
        cache_control = PRIVATE
    else:
        cache_control = public_cache
    storage = storages["default"]
    if not isinstance(storage, FileSystemStorage):
        # Object storage serves bytes and ranges itself; keep app servers out of the data path.
        response = HttpResponseRedirect(storage.url(key))
        response["Cache-Control"] = "public, max-age=300" if cache_control != PRIVATE else PRIVATE
        if cache_control == PRIVATE:
            response["Vary"] = PRIVATE_VARY
        return response
    try:
        handle = storage.open(key, "rb")
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return not_found()
    size = storage.size(key)
    etag = f'"{key.rsplit("/", 1)[0].replace("/", "")}-{size}"'
    content_type = "text/plain" if key.endswith(".metadata") else "application/octet-stream"

    if etag in request.META.get("HTTP_IF_NONE_MATCH", ""):
        handle.close()
        response = HttpResponse(status=304)
    elif (byte_range := _parse_range(request.META.get("HTTP_RANGE", ""), size)) is not None:
        start, end = byte_range
        if start >= size or start > end:
            handle.close()
            response = HttpResponse(status=416)
            response["Content-Range"] = f"bytes */{size}"
        else:
            handle.seek(start)
            response = StreamingHttpResponse(
                _read_span(handle, end - start + 1), status=206, content_type=content_type
            )
            response["Content-Range"] = f"bytes {start}-{end}/{size}"
            response["Content-Length"] = str(end - start + 1)
            _count_bytes(key, end - start + 1)
    else:
        response = FileResponse(handle, content_type=content_type)
        response["Content-Length"] = str(size)
        _count_bytes(key, size)
    response["ETag"] = etag
    response["Accept-Ranges"] = "bytes"
    response["Cache-Control"] = cache_control
    if cache_control == PRIVATE:
        response["Vary"] = PRIVATE_VARY
    return response


def _count_bytes(key: str, length: int) -> None:
    """Counted when the response is made: a client that hangs up early is counted whole."""
    kind = "metadata" if key.endswith(METADATA_SUFFIX) else "file"
    metrics.FILE_BYTES_SERVED.labels(kind=kind).inc(length)


def forbidden(message: str) -> HttpResponse:
    response = HttpResponseForbidden(message, content_type="text/plain; charset=utf-8")
    response["Cache-Control"] = NOT_FOUND
    return response


def not_found() -> HttpResponse:
    response = HttpResponseNotFound("Not Found", content_type="text/plain; charset=utf-8")
    response["Cache-Control"] = NOT_FOUND
    return response


def _parse_range(header: str, size: int) -> tuple[int, int] | None:
    """A single `bytes=` range as (start, end) inclusive; None to send the whole file (several
    ranges or a malformed header, both of which RFC 9110 lets a server ignore)."""
    match = _RANGE.match(header.strip())
    if match is None:
        return None
    first, last = match.groups()
    if first == "" and last == "":
        return None
    if first == "":
        length = int(last)
        return (max(size - length, 0), size - 1) if length else (size, size - 1)
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    return start, end


def _read_span(handle, remaining: int):
    with handle:
        while remaining > 0:
            chunk = handle.read(min(CHUNK, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            yield chunk
