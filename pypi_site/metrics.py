"""Every Prometheus metric the index keeps, defined once here so any app may count into them.

`/metrics` (operations/views.py) exposes them. Under gunicorn each worker is its own process:
pypi_site/gunicorn.py points PROMETHEUS_MULTIPROC_DIR at a directory before the workers start,
prometheus_client then keeps each worker's values in files there, and a scrape adds them up,
so whichever worker answers the scrape reports the whole server. Without that variable (tests,
`runserver`) the values live in this process.

Labels stay few and bounded: a route is its URL pattern name, never the raw path, and an upload
refusal is a short reason code, never its message.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

NAMESPACE = "pypi"

HTTP_REQUESTS = Counter(
    "http_requests",
    "Requests answered, by URL pattern name, method and status.",
    ["route", "method", "status"],
    namespace=NAMESPACE,
)
HTTP_REQUEST_SECONDS = Histogram(
    "http_request_duration_seconds",
    "Time to produce the response (a streamed body's transfer not included), by route.",
    ["route"],
    namespace=NAMESPACE,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
UPLOADS_ACCEPTED = Counter(
    "uploads_accepted",
    "Uploads answered 200: new files, and identical re-uploads (new=false).",
    ["new"],
    namespace=NAMESPACE,
)
UPLOADS_REFUSED = Counter(
    "uploads_refused",
    "Uploads refused, by reason code (as the public index tags upload.failed).",
    ["reason"],
    namespace=NAMESPACE,
)
FILE_BYTES_SERVED = Counter(
    "file_bytes_served",
    "Bytes of distributions (kind=file) and PEP 658 metadata (kind=metadata) sent by the file "
    "route; redirects to object storage send none.",
    ["kind"],
    namespace=NAMESPACE,
)
PAGE_CACHE_HITS = Counter(
    "page_cache_hits",
    "Simple and JSON API pages found rendered, by tier (local: this process; shared: the "
    "cache; stored: the copy rendered when the project changed).",
    ["tier"],
    namespace=NAMESPACE,
)
PAGE_CACHE_MISSES = Counter(
    "page_cache_misses",
    "Simple and JSON API pages rendered because no tier had them.",
    namespace=NAMESPACE,
)
INLINE_JOBS_FAILED = Counter(
    "inline_jobs_failed",
    "Jobs run in the app server (no REDIS_URL, or Redis down) that raised; RQ's own failures "
    "are read from Redis at scrape time.",
    namespace=NAMESPACE,
)
PROXY_PAGES = Counter(
    "proxy_pages",
    "Upstream project pages asked for, by result: fresh (the cached copy was young enough), "
    "fetched, not-modified (revalidated with a 304), absent (the upstream has no such project), "
    "error (the upstream failed; a stale copy is served when there is one).",
    ["result"],
    namespace=NAMESPACE,
)
PROXY_FILES = Counter(
    "proxy_files",
    "Downloads of mirrored files (kind=file|metadata): hit (in storage) or miss (fetched).",
    ["kind", "result"],
    namespace=NAMESPACE,
)
PROXY_FILLS = Counter(
    "proxy_fills",
    "Upstream downloads of mirrored files, by result: ok, mismatch (sha256 or size), error.",
    ["kind", "result"],
    namespace=NAMESPACE,
)
PROXY_UPSTREAM_BYTES = Counter(
    "proxy_upstream_bytes",
    "Bytes of files (kind=file) and PEP 658 metadata (kind=metadata) read from the upstream.",
    ["kind"],
    namespace=NAMESPACE,
)
