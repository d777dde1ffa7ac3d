"""A mirrored file's first download: fetched from upstream under the file's lock (many readers,
one download), streamed to the client and to a temporary file at once (never whole in memory),
checked against the sha256 the upstream listed, then put in storage with
packages.storage.store_verified. A mismatch keeps nothing and breaks the client's transfer
(the bytes already sent cannot be taken back, so the connection is cut before the end and the
installer sees an incomplete download). Later downloads, Range requests included, are served
from storage by packages.files as any file.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import tempfile
from collections.abc import Iterator

from django.conf import settings
from django.core.files.storage import storages
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse

from packages.models import File
from packages.storage import StorageError, store_verified
from proxy import upstream
from proxy.locking import FillLock
from pypi_site import metrics

logger = logging.getLogger(__name__)
CHUNK = 64 * 1024


class FillError(Exception):
    pass


def serve_uncached(request: HttpRequest, *, file: File, metadata: bool) -> HttpResponse | None:
    """None when the bytes are (now) in storage, for packages.files to serve; otherwise the
    streaming first download, or a 502 saying why the upstream could not provide them."""
    storage = storages["default"]
    key = file.metadata_path if metadata else file.path
    kind = "metadata" if metadata else "file"
    if storage.exists(key):
        metrics.PROXY_FILES.labels(kind=kind, result="hit").inc()
        return None
    lock = FillLock("file", key)
    lock.acquire()
    try:
        if storage.exists(key):  # filled while this request waited for the lock
            metrics.PROXY_FILES.labels(kind=kind, result="hit").inc()
            lock.release()
            return None
        metrics.PROXY_FILES.labels(kind=kind, result="miss").inc()
        if metadata:
            fill_metadata(file)
            lock.release()
            return None
        response = _open(file)
        if request.META.get("HTTP_RANGE"):
            # A range of a file not yet here: fetch it whole first, then serve the range.
            for _chunk in _copy(file, response):
                pass
            lock.release()
            return None
    except (FillError, upstream.UpstreamError, StorageError) as exc:
        lock.release()
        return _bad_gateway(f"The upstream index could not provide {file.filename}: {exc}")
    except BaseException:
        lock.release()
        raise
    streamed = StreamingHttpResponse(
        _LockedStream(_copy(file, response), lock), content_type="application/octet-stream"
    )
    if file.size:
        streamed["Content-Length"] = str(file.size)
    streamed["Cache-Control"] = "no-store"  # the next answer comes from storage, cacheable
    streamed["X-Upstream-Cache"] = "miss"
    return streamed


def fill_file(file: File) -> bool:
    """Download a mirrored file into storage if it is not there (fetch_upstream); False if it
    already was. Raises FillError or upstream.UpstreamError."""
    if storages["default"].exists(file.path):
        return False
    lock = FillLock("file", file.path)
    lock.acquire()
    try:
        if storages["default"].exists(file.path):
            return False
        for _chunk in _copy(file, _open(file)):
            pass
        return True
    finally:
        lock.release()


def fill_metadata(file: File) -> None:
    """PEP 658: the metadata file is the file's URL plus `.metadata`; small, read whole."""
    response, _ = upstream.open_url(f"{file.upstream_url}.metadata")
    if response.status != 200:
        response.close()
        raise FillError(f"upstream answered {response.status} for its metadata")
    body = upstream.read_bounded(response, limit=upstream.MAX_METADATA_BYTES)
    digest = hashlib.sha256(body).hexdigest()
    if digest != file.metadata_sha256:
        metrics.PROXY_FILLS.labels(kind="metadata", result="mismatch").inc()
        raise FillError(f"metadata sha256 {digest} is not the listed {file.metadata_sha256}")
    store_verified(key=file.metadata_path, body=io.BytesIO(body), size=len(body), sha256=digest)
    metrics.PROXY_FILLS.labels(kind="metadata", result="ok").inc()
    metrics.PROXY_UPSTREAM_BYTES.labels(kind="metadata").inc(len(body))


def _open(file: File):
    response, _ = upstream.open_url(file.upstream_url)
    if response.status != 200:
        response.close()
        metrics.PROXY_FILLS.labels(kind="file", result="error").inc()
        raise FillError(f"upstream answered {response.status}")
    return response


class _LockedStream:
    """The first download's chunks, holding the file's lock until the response is closed:
    a generator's own `finally` never runs if the client leaves before the first chunk."""

    def __init__(self, chunks: Iterator[bytes], lock: FillLock) -> None:
        self._chunks, self._lock = chunks, lock

    def __iter__(self) -> Iterator[bytes]:
        return self._chunks

    def close(self) -> None:
        try:
            self._chunks.close()
        finally:
            self._lock.release()


def _copy(file: File, response) -> Iterator[bytes]:
    """Yield the upstream's bytes while writing them to a temporary file; at the end check
    size and sha256 and store them. Raises FillError on a mismatch, after the last chunk."""
    try:
        with tempfile.TemporaryFile(dir=settings.FILE_UPLOAD_TEMP_DIR) as temp:
            sha256, blake2, md5 = hashlib.sha256(), hashlib.blake2b(digest_size=32), hashlib.md5()
            total = 0
            while True:
                try:
                    chunk = response.read(CHUNK)
                except OSError as exc:
                    metrics.PROXY_FILLS.labels(kind="file", result="error").inc()
                    raise FillError(f"reading from upstream: {exc}") from exc
                if not chunk:
                    break
                total += len(chunk)
                if file.size and total > file.size:
                    metrics.PROXY_FILLS.labels(kind="file", result="mismatch").inc()
                    raise FillError(f"upstream sent more than the listed {file.size} bytes")
                sha256.update(chunk)
                blake2.update(chunk)
                md5.update(chunk)
                temp.write(chunk)
                yield chunk
            metrics.PROXY_UPSTREAM_BYTES.labels(kind="file").inc(total)
            if sha256.hexdigest() != file.sha256_digest or (file.size and total != file.size):
                metrics.PROXY_FILLS.labels(kind="file", result="mismatch").inc()
                logger.error(
                    "Upstream bytes of %s do not match its listing (%d bytes, sha256 %s); "
                    "nothing kept",
                    file.filename,
                    total,
                    sha256.hexdigest(),
                )
                raise FillError(
                    f"the bytes do not match the upstream's sha256 ({sha256.hexdigest()} is not "
                    f"{file.sha256_digest}); nothing was kept"
                )
            temp.flush()
            store_verified(key=file.path, body=temp, size=total, sha256=file.sha256_digest)
            with contextlib.suppress(IntegrityError), transaction.atomic():
                # The same bytes under another name keep their blake2 there; this row keeps none.
                File.objects.filter(pk=file.pk).update(
                    blake2_256_digest=blake2.hexdigest(), md5_digest=md5.hexdigest(), size=total
                )
            metrics.PROXY_FILLS.labels(kind="file", result="ok").inc()
            logger.info("Cached %s from upstream (%d bytes)", file.filename, total)
    finally:
        response.close()


def _bad_gateway(message: str) -> HttpResponse:
    response = HttpResponse(message, status=502, content_type="text/plain; charset=utf-8")
    response["Cache-Control"] = "no-store"
    return response
