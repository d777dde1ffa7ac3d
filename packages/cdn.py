"""What a CDN in front of the index needs: cache headers on simple pages, and a purge when a
project changes.

Every simple page carries surrogate keys: `simple` (all of them, for an operator's full purge),
and `simple-<normalized name>` or, for the root, `simple-index`. A change to a project purges
its own key and the root's (the root lists every project's serial). With purges on change the
CDN may keep a page for a day; clients keep it for minutes, as on the public index.
"""

from __future__ import annotations

import urllib.request
from urllib.parse import quote

from django.conf import settings

ALL_KEY = "simple"
ROOT_KEY = "simple-index"
CLIENT_MAX_AGE = 600
SURROGATE_CONTROL = "max-age=86400, stale-while-revalidate=300, stale-if-error=86400"
PURGE_TIMEOUT = 10


def project_key(normalized_name: str) -> str:
    return f"simple-{normalized_name}"


def simple_cache_headers(*, normalized_name: str | None) -> dict[str, str]:
    """Headers for `/simple/<normalized_name>/`, or for the root when it is None
    (deploy/nginx/index.conf sends the same; tests/e2e/test_static_pages.py compares them)."""
    own = project_key(normalized_name) if normalized_name else ROOT_KEY
    return {
        "Cache-Control": f"public, max-age={CLIENT_MAX_AGE}",
        "Surrogate-Control": SURROGATE_CONTROL,
        "Surrogate-Key": f"{ALL_KEY} {own}",
    }


def keys_for_change(*, normalized_name: str) -> list[str]:
    return [project_key(normalized_name), ROOT_KEY]


def purge(*, keys: list[str]) -> int:
    """Ask the CDN at CDN_PURGE_URL to drop `keys`; returns the number of requests sent.

    A URL with `{key}` gets one POST per key (the form of most CDN APIs); any other URL one
    `PURGE` with `Surrogate-Key: <keys>` (Varnish with xkey, and caches modelled on it). An
    answer of 400 or more raises, so the job queue retries.
    """
    url = settings.CDN_PURGE_URL
    if not url or not keys:
        return 0
    headers = {}
    if settings.CDN_PURGE_HEADER:
        name, _colon, value = settings.CDN_PURGE_HEADER.partition(":")
        headers[name.strip()] = value.strip()
    if "{key}" in url:
        for key in keys:
            _send("POST", url.replace("{key}", quote(key, safe="")), headers=headers)
        return len(keys)
    _send("PURGE", url, headers={**headers, "Surrogate-Key": " ".join(keys)})
    return 1


def _send(method: str, url: str, *, headers: dict[str, str]) -> None:
    request = urllib.request.Request(
        url, method=method, headers=headers, data=b"" if method == "POST" else None
    )
    # urlopen raises HTTPError for an error status and URLError when nothing answers.
    with urllib.request.urlopen(request, timeout=PURGE_TIMEOUT) as response:
        response.read()
