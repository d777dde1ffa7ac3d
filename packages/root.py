"""The `/simple/` root: every project, streamed from stored segments with bounded memory.

On an index of 700,000 projects the root is 40 MB of HTML, and any upload anywhere changes it
(the JSON lists each project's serial, the HTML ends with the global serial). Rendering it
whole per serial cost seconds and over a gigabyte when misses coincided; caching it whole moved
40 MB through pickle per hit. Instead:

1. Segments. The public root is cut by the first two characters of the normalized name into
   `RootSegment` rows (about a thousand), each holding its part of the HTML and of the JSON,
   plain and as a raw deflate stream ended by a sync flush (with its CRC-32 and size). Names
   are listed in byte order (PostgreSQL's C collation, SQLite's default), in which a prefix
   range is contiguous, so the segments in prefix order are the root's middle.
2. Incremental refresh. `RootSync` records the journal serial the segments are current up to.
   A read or the static-page job that finds the journal ahead takes the names journalled since
   then and re-renders only their segments (one indexed `LIKE 'ab%'` query each), under one
   lock so concurrent readers do not all redo the same work. Every change to a project bumps
   the journal (packages/journal.py), so a read right after an upload lists it (read your
   writes on every server); with nothing new a read costs two one-row queries before it
   streams. Another deploy's renderer (responses.RENDER_VERSION) rebuilds everything once.
3. Streaming. The answer is head + segments + tail, read with a chunked iterator and yielded
   piece by piece. With gzip the stored deflate pieces are sent as they are inside one gzip
   member whose CRC-32 is combined from the pieces', so no request compresses anything
   large. A reader who may see private projects gets the public segments, except that each
   segment holding one of their private projects is rendered for them alone, live; private
   projects are never in a stored segment.
4. ETag without rendering: a hash of (render version, access class, serial, HTML or JSON), so
   If-None-Match costs the serial query and no rendering. Static pages (static_pages.py) use
   the same ETags, so nginx and the app agree.

A stored whole file per serial was the other option; with uploads every few seconds it would
mostly be stale, and a stale copy cannot serve a read that must show the newest project.
"""

from __future__ import annotations

import hashlib
import itertools
import struct
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.db.models.functions import Collate, Substr

from packages import simple
from packages.models import JournalEntry, Project, RootSegment, RootSync
from packages.names import lookup_name
from packages.permissions import PUBLIC_SCOPE, ReadScope
from packages.responses import RENDER_VERSION
from pypi_site.locks import advisory_xact_lock, file_lock

PREFIX_LENGTH = 2
# How many segments one round trip fetches while streaming (about 40 KB of HTML each).
SEGMENTS_PER_FETCH = 16
# A full rebuild inserts segments in batches of at most this many plain bytes.
_REBUILD_BATCH_BYTES = 4 * 1024 * 1024
# Raw deflate (no zlib header), so pieces compressed separately can follow one another.
_DEFLATE_LEVEL = 6
# A gzip member header: deflate, no name, mtime 0, unknown OS.
GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
# An empty final fixed-Huffman block: what ends the deflate stream after sync-flushed pieces.
_DEFLATE_END = b"\x03\x00"
_ZEROS = memoryview(bytes(1 << 20))
# PostgreSQL advisory lock namespace for the segment refresh.
_ROOT_LOCKS = 0x524F_4F54


def segment_prefix(normalized_name: str) -> str:
    return normalized_name[:PREFIX_LENGTH]


def segment_position(prefix: str) -> int:
    """The prefix's byte order as a number, so the order never depends on a collation."""
    return int.from_bytes(prefix.encode().ljust(PREFIX_LENGTH, b"\0"), "big")


def root_etag(*, serial: int, fmt: str, access: str) -> str:
    """The root's ETag (unquoted, 32 hex digits as nginx's maps expect), known without
    rendering: the bytes are fixed by the serial, the reader's access class and the format.
    HTML and v1+html are the same bytes and share one."""
    kind = "json" if fmt == simple.V1_JSON else "html"
    key = f"simple-root:{RENDER_VERSION}:{access}:{serial}:{kind}"
    return hashlib.md5(key.encode(), usedforsecurity=False).hexdigest()


@dataclass(frozen=True)
class Piece:
    """Some bytes of the page: plain, as a sync-flushed raw deflate stream, their CRC-32."""

    plain: bytes
    deflated: bytes
    crc: int

    @property
    def size(self) -> int:
        return len(self.plain)


def make_piece(plain: bytes) -> Piece:
    compressor = zlib.compressobj(_DEFLATE_LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS)
    deflated = compressor.compress(plain) + compressor.flush(zlib.Z_SYNC_FLUSH)
    return Piece(plain=plain, deflated=deflated, crc=zlib.crc32(plain))


# --- Reading ------------------------------------------------------------------------------


def stream_root(
    *, serial: int, fmt: str, scope: ReadScope = PUBLIC_SCOPE, gzipped: bool
) -> Iterator[bytes]:
    """The root for a reader of `scope`, in chunks: gzip (one member) or plain. The caller
    has run `refresh_segments` for `serial`."""
    if gzipped:
        return _gzip_stream(_pieces(serial=serial, fmt=fmt, scope=scope, gzipped=True))
    return (chunk for chunk, _crc, _size in _pieces(serial=serial, fmt=fmt, scope=scope))


def _gzip_stream(pieces: Iterable[tuple[bytes, int, int]]) -> Iterator[bytes]:
    """RFC 1952: header, the deflate pieces, the end block, CRC-32 and size of the whole."""
    yield GZIP_HEADER
    crc, total = 0, 0
    for deflated, piece_crc, size in pieces:
        yield deflated
        crc = _crc_concat(crc, piece_crc, size)
        total += size
    yield _DEFLATE_END + struct.pack("<II", crc, total & 0xFFFFFFFF)


def _crc_concat(first: int, second: int, second_size: int) -> int:
    """CRC-32 of A+B from crc(A), crc(B) and len(B). CRC-32 is affine in its starting value,
    so crc(B, start=c) = crc(B) ^ crc(zeros, start=c) ^ crc(zeros) over len(B) zero bytes;
    zlib does that at gigabytes a second (40 MB of root: under 20 ms)."""
    shifted, plain = first, 0
    remaining = second_size
    while remaining:
        step = min(remaining, len(_ZEROS))
        shifted = zlib.crc32(_ZEROS[:step], shifted)
        plain = zlib.crc32(_ZEROS[:step], plain)
        remaining -= step
    return second ^ shifted ^ plain


def _pieces(
    *, serial: int, fmt: str, scope: ReadScope, gzipped: bool = False
) -> Iterator[tuple[bytes, int, int]]:
    """(bytes to send, CRC-32 of the plain bytes, plain size) for each piece: the head, the
    segments (stored, or rendered for this reader), the tail. JSON entries of consecutive
    segments are joined by a comma piece."""
    is_json = fmt == simple.V1_JSON
    if is_json:
        head, tail = simple.index_json_head(serial), simple.index_json_tail()
    else:
        head, tail = simple.index_html_head(), simple.index_html_tail(serial)
    comma = _sent(make_piece(b","), gzipped=gzipped)
    yield _sent(make_piece(head), gzipped=gzipped)
    first = True
    for piece in _segments(is_json=is_json, scope=scope, gzipped=gzipped):
        if piece[2] == 0:
            continue
        if is_json and not first:
            yield comma
        first = False
        yield piece
    yield _sent(make_piece(tail), gzipped=gzipped)


def _sent(piece: Piece, *, gzipped: bool) -> tuple[bytes, int, int]:
    return (piece.deflated if gzipped else piece.plain), piece.crc, piece.size


def _segments(
    *, is_json: bool, scope: ReadScope, gzipped: bool
) -> Iterator[tuple[bytes, int, int]]:
    """Stored segments in order, with this reader's own segments (those holding a private
    project they may see) rendered live in their place."""
    live = _private_prefixes(scope)
    kind = "json" if is_json else "html"
    rows = (
        RootSegment.objects.order_by("position")
        .values_list(
            "prefix", f"{kind}_deflate" if gzipped else kind, f"{kind}_crc", f"{kind}_size"
        )
        .iterator(chunk_size=SEGMENTS_PER_FETCH)
    )
    for prefix, stored, crc, size in rows:
        while live and segment_position(live[0]) < segment_position(prefix):
            yield _sent(_render_piece(live.pop(0), is_json=is_json, q=scope.q()), gzipped=gzipped)
        if live and live[0] == prefix:
            yield _sent(_render_piece(live.pop(0), is_json=is_json, q=scope.q()), gzipped=gzipped)
            continue
        yield bytes(stored), crc, size
    for prefix in live:
        yield _sent(_render_piece(prefix, is_json=is_json, q=scope.q()), gzipped=gzipped)


def _private_prefixes(scope: ReadScope) -> list[str]:
    """Prefixes of the segments this reader sees differently from the public: those holding a
    private project of their scope. In segment order."""
    if scope == PUBLIC_SCOPE:
        return []
    private = Project.objects.visible().filter(is_private=True)
    if not scope.all_private:
        private = private.filter(pk__in=sorted(scope.private_ids))
    prefixes = (
        private.annotate(prefix=Substr("normalized_name", 1, PREFIX_LENGTH))
        .order_by()
        .values_list("prefix", flat=True)
        .distinct()
    )
    return sorted(set(prefixes), key=segment_position)


def _render_piece(prefix: str, *, is_json: bool, q: Q) -> Piece:
    projects = _projects(prefix=prefix, q=q)
    if is_json:
        return make_piece(simple.index_json_items(projects))
    return make_piece(simple.index_html_links(projects))


def _projects(*, prefix: str, q: Q) -> list[tuple[str, str, int]]:
    return list(
        Project.objects.visible()
        .filter(q, normalized_name__startswith=prefix)
        .order_by(_byte_order("normalized_name"))
        .values_list("name", "normalized_name", "last_serial")
    )


def _byte_order(field: str) -> F | Collate:
    # SQLite compares text bytewise already; PostgreSQL follows the database's collation
    # unless told otherwise.
    return Collate(F(field), "C") if connection.vendor == "postgresql" else F(field)


# --- Refreshing ---------------------------------------------------------------------------


def refresh_segments(*, serial: int) -> int:
    """Bring the stored segments up to journal serial `serial` (at least); returns how many
    were re-rendered. Cheap when nothing changed: one one-row query."""
    if _synced_serial() >= serial:
        return 0
    with _refresh_lock():
        sync = RootSync.objects.first()
        if sync is not None and sync.render_version == RENDER_VERSION and sync.serial >= serial:
            return 0
        # Read before rendering, so the segments are at least as new as the serial recorded.
        current = JournalEntry.objects.last_serial()
        if sync is None or sync.render_version != RENDER_VERSION:
            count = _rebuild_all(serial=current)
        else:
            names = (
                JournalEntry.objects.filter(id__gt=sync.serial, id__lte=current)
                .order_by()
                .values_list("name", flat=True)
                .distinct()
            )
            prefixes = {segment_prefix(lookup_name(name) or name.lower()) for name in names}
            for prefix in prefixes:
                _store_segment(prefix, _projects(prefix=prefix, q=PUBLIC_SCOPE.q()), current)
            count = len(prefixes)
        RootSync.objects.update_or_create(
            pk=1, defaults={"serial": current, "render_version": RENDER_VERSION}
        )
    return count


def rebuild_segments() -> int:
    """Re-render every segment (after projects changed without the journal, e.g. raw SQL)."""
    with _refresh_lock():
        current = JournalEntry.objects.last_serial()
        count = _rebuild_all(serial=current)
        RootSync.objects.update_or_create(
            pk=1, defaults={"serial": current, "render_version": RENDER_VERSION}
        )
    return count


def _synced_serial() -> int:
    sync = RootSync.objects.filter(render_version=RENDER_VERSION).values_list("serial").first()
    return sync[0] if sync else -1


def _rebuild_all(*, serial: int) -> int:
    """One pass over every public project in byte order, one segment in memory at a time."""
    rows = (
        Project.objects.visible()
        .filter(PUBLIC_SCOPE.q())
        .order_by(_byte_order("normalized_name"))
        .values_list("name", "normalized_name", "last_serial")
        .iterator(chunk_size=5000)
    )
    # Under the refresh lock and in its transaction: readers see the old set until commit.
    RootSegment.objects.all().delete()
    count, batch, batch_bytes = 0, [], 0
    for prefix, group in itertools.groupby(rows, key=lambda row: segment_prefix(row[1])):
        segment = RootSegment(prefix=prefix, **_segment_fields(list(group), serial))
        batch.append(segment)
        batch_bytes += segment.html_size + segment.json_size
        count += 1
        if len(batch) == SEGMENTS_PER_FETCH or batch_bytes > _REBUILD_BATCH_BYTES:
            RootSegment.objects.bulk_create(batch)
            batch, batch_bytes = [], 0
    RootSegment.objects.bulk_create(batch)
    return count


def _store_segment(prefix: str, projects: list[tuple[str, str, int]], serial: int) -> None:
    if not projects:
        RootSegment.objects.filter(prefix=prefix).delete()
        return
    fields = _segment_fields(projects, serial)
    if not RootSegment.objects.filter(prefix=prefix).update(**fields):
        RootSegment.objects.create(prefix=prefix, **fields)


def _segment_fields(projects: list[tuple[str, str, int]], serial: int) -> dict:
    html = make_piece(simple.index_html_links(projects))
    json_ = make_piece(simple.index_json_items(projects))
    return {
        "position": segment_position(segment_prefix(projects[0][1])),
        "built_serial": serial,
        "html": html.plain,
        "html_deflate": html.deflated,
        "html_crc": html.crc,
        "html_size": html.size,
        "json": json_.plain,
        "json_deflate": json_.deflated,
        "json_crc": json_.crc,
        "json_size": json_.size,
    }


@contextmanager
def _refresh_lock() -> Iterator[None]:
    """One refresher at a time: the others wait, then find the work done. A PostgreSQL
    advisory lock (shared by every app server), or with SQLite a file lock."""
    if connection.vendor == "postgresql":
        with transaction.atomic():
            advisory_xact_lock(_ROOT_LOCKS, "segments")
            yield
        return
    with file_lock(Path(settings.DATA_DIR) / "root-segments.lock"), transaction.atomic():
        yield
