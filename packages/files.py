"""Serving stored distributions: HTTP Range for local storage, a redirect for object storage.

pip and uv read a wheel's central directory with Range requests, so local serving must answer
206 with a correct Content-Range. The key in the URL is content-addressed and never reused,
which makes every response immutable.
"""

from __future__ import annotations

import re

from django.core.files.storage import FileSystemStorage, storages
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    StreamingHttpResponse,
)

IMMUTABLE = "public, max-age=31536000, immutable"
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
CHUNK = 64 * 1024


def serve_file(request: HttpRequest, key: str) -> HttpResponse:
    storage = storages["default"]
    if not isinstance(storage, FileSystemStorage):
        # Object storage serves bytes and ranges itself; keep app servers out of the data path.
        if not storage.exists(key):
            raise Http404("No such file")
        response = HttpResponseRedirect(storage.url(key))
        response["Cache-Control"] = "public, max-age=300"
        return response
    try:
        handle = storage.open(key, "rb")
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        raise Http404("No such file") from None
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
    else:
        response = FileResponse(handle, content_type=content_type)
        response["Content-Length"] = str(size)
    response["ETag"] = etag
    response["Accept-Ranges"] = "bytes"
    response["Cache-Control"] = IMMUTABLE
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
