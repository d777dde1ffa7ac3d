"""Talking to UPSTREAM_INDEX_URL: project pages (PEP 691 JSON, PEP 503 HTML when the upstream
has no JSON) and file downloads, bounded in size and time.

Connections go through packages/outbound.py. The upstream's own host may be on a private or
loopback address (the operator configured it); a file URL the upstream points at on another
host must be public, as any address a listing could name. Credentials (UPSTREAM_INDEX_USERNAME
and _PASSWORD, or user:password in the URL) are sent to the upstream's host only.
"""

from __future__ import annotations

import base64
import http.client
import json
import re
import time
from dataclasses import dataclass
from datetime import datetime
from html.parser import HTMLParser
from urllib.parse import unquote, urldefrag, urljoin, urlsplit, urlunsplit

from django.conf import settings

from packages.filenames import FilenameError, check_characters, parse_filename
from packages.names import lookup_name
from packages.outbound import (
    AddressRefused,
    CheckedHTTPConnection,
    CheckedHTTPSConnection,
    HostNotFound,
)

MAX_PAGE_BYTES = 64 * 1024 * 1024
MAX_METADATA_BYTES = 16 * 1024 * 1024
MAX_REDIRECTS = 5
V1_JSON = "application/vnd.pypi.simple.v1+json"
ACCEPT = f"{V1_JSON}, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01"
USER_AGENT = "package-index-proxy/1"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
# Column sizes of packages' Project.name and Release.version.
MAX_NAME_LENGTH = 200
MAX_VERSION_LENGTH = 100


class UpstreamError(Exception):
    """The upstream did not answer usefully (unreachable, timeout, 5xx, malformed)."""


class ProjectAbsent(Exception):
    """The upstream answered 404 for the project."""


@dataclass(frozen=True)
class ListedFile:
    filename: str
    url: str
    sha256: str
    size: int | None
    upload_time: datetime | None
    requires_python: str
    yanked: bool
    yanked_reason: str
    metadata_sha256: str


@dataclass(frozen=True)
class Page:
    name: str
    files: list[ListedFile]
    etag: str
    last_modified: str
    serial: int | None


def enabled() -> bool:
    return bool(settings.UPSTREAM_INDEX_URL)


def _base() -> tuple[str, str | None]:
    """The upstream's root without credentials, and the Authorization header for its host."""
    parts = urlsplit(settings.UPSTREAM_INDEX_URL)
    username, password = settings.UPSTREAM_INDEX_USERNAME, settings.UPSTREAM_INDEX_PASSWORD
    if parts.username is not None and not username:
        username, password = unquote(parts.username), unquote(parts.password or "")
    netloc = parts.hostname or ""
    if ":" in netloc:
        netloc = f"[{netloc}]"
    if parts.port:
        netloc += f":{parts.port}"
    root = urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    auth = None
    if username:
        token = base64.b64encode(f"{username}:{password}".encode()).decode()
        auth = f"Basic {token}"
    return root, auth


def upstream_root() -> str:
    return _base()[0]


def project_url(normalized: str) -> str:
    return f"{upstream_root()}{normalized}/"


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or "").lower(), parts.port


def open_url(
    url: str, *, headers: dict[str, str] | None = None
) -> tuple[http.client.HTTPResponse, str]:
    """GET `url`, following redirects; returns the open response (any status but a redirect)
    and the final URL. The caller closes the response."""
    root, auth = _base()
    for _ in range(MAX_REDIRECTS + 1):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UpstreamError(f"refusing to fetch {url!r}")
        same_host = _origin(url) == _origin(root)
        cls = CheckedHTTPSConnection if parts.scheme == "https" else CheckedHTTPConnection
        connection = cls(
            parts.hostname,
            parts.port,
            timeout=settings.UPSTREAM_TIMEOUT,
            allow_private=same_host,
        )
        request_headers = {"User-Agent": USER_AGENT, **(headers or {})}
        if same_host and auth:
            request_headers["Authorization"] = auth
        path = parts.path or "/"
        if parts.query:
            path += f"?{parts.query}"
        try:
            connection.request("GET", path, headers=request_headers)
            response = connection.getresponse()
        except (OSError, http.client.HTTPException, HostNotFound, AddressRefused) as exc:
            connection.close()
            raise UpstreamError(f"{parts.hostname}: {exc}") from exc
        if response.status in (301, 302, 303, 307, 308) and response.getheader("Location"):
            url = urljoin(url, response.getheader("Location"))
            response.close()
            connection.close()
            continue
        return response, url
    raise UpstreamError(f"too many redirects from {url!r}")


def read_bounded(response: http.client.HTTPResponse, *, limit: int) -> bytes:
    """The whole body, refused past `limit` bytes or UPSTREAM_TIMEOUT seconds in all."""
    deadline = time.monotonic() + settings.UPSTREAM_TIMEOUT
    chunks, total = [], 0
    try:
        while chunk := response.read(64 * 1024):
            total += len(chunk)
            if total > limit:
                raise UpstreamError(f"answer larger than {limit} bytes")
            if time.monotonic() > deadline:
                raise UpstreamError("answer took too long")
            chunks.append(chunk)
    except (OSError, http.client.HTTPException) as exc:
        raise UpstreamError(f"reading the answer: {exc}") from exc
    finally:
        response.close()
    return b"".join(chunks)


def fetch_page(normalized: str, *, etag: str = "", last_modified: str = "") -> Page | None:
    """The upstream's page for a project, None when it answers 304 to the validators given.
    Raises ProjectAbsent (404 or 410) or UpstreamError."""
    headers = {"Accept": ACCEPT}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    response, final_url = open_url(project_url(normalized), headers=headers)
    if response.status == 304:
        response.close()
        return None
    if response.status in (404, 410):
        response.close()
        raise ProjectAbsent(normalized)
    if response.status != 200:
        response.close()
        raise UpstreamError(f"upstream answered {response.status} for {normalized}")
    content_type = (response.getheader("Content-Type") or "").split(";")[0].strip().lower()
    new_etag = response.getheader("ETag") or ""
    new_last_modified = response.getheader("Last-Modified") or ""
    header_serial = response.getheader("X-PyPI-Last-Serial") or ""
    body = read_bounded(response, limit=MAX_PAGE_BYTES)
    if content_type == V1_JSON or content_type.endswith("+json"):
        name, files, serial = _parse_json(body, base_url=final_url)
    else:
        name, files, serial = normalized, _parse_html(body, base_url=final_url), None
    if serial is None and header_serial.isdigit():
        serial = int(header_serial)
    listed_name = lookup_name(name) if isinstance(name, str) else None
    if listed_name != normalized:
        raise UpstreamError(f"upstream page for {normalized} names {name!r}")
    return Page(
        name=normalized,
        files=_valid_files(files, normalized),
        etag=new_etag[:300],
        last_modified=new_last_modified[:100],
        serial=serial,
    )


def _parse_json(body: bytes, *, base_url: str) -> tuple[str, list[ListedFile], int | None]:
    try:
        data = json.loads(body)
        name = data["name"]
        entries = data["files"]
        serial = data.get("meta", {}).get("_last-serial")
        files = [_json_file(entry, base_url) for entry in entries]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise UpstreamError(f"malformed PEP 691 page: {exc}") from exc
    return name, [f for f in files if f is not None], serial if isinstance(serial, int) else None


def _json_file(entry: dict, base_url: str) -> ListedFile | None:
    sha256 = str(entry.get("hashes", {}).get("sha256", "")).lower()
    metadata = entry.get("core-metadata", entry.get("data-dist-info-metadata", False))
    metadata_sha256 = metadata.get("sha256", "") if isinstance(metadata, dict) else ""
    yanked = entry.get("yanked", False)
    size = entry.get("size")
    return ListedFile(
        filename=str(entry["filename"]),
        url=urldefrag(urljoin(base_url, str(entry["url"])))[0],
        sha256=sha256,
        size=size if isinstance(size, int) and size >= 0 else None,
        upload_time=_parse_time(entry.get("upload-time")),
        requires_python=str(entry.get("requires-python") or "")[:200],
        yanked=bool(yanked),
        yanked_reason=yanked if isinstance(yanked, str) else "",
        metadata_sha256=str(metadata_sha256).lower(),
    )


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.anchors: list[tuple[dict[str, str], str]] = []
        self._current: dict[str, str] | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._current = {k: v or "" for k, v in attrs}
            self._text = []

    def handle_data(self, data: str) -> None:
        if self._current is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._current is not None:
            self.anchors.append((self._current, "".join(self._text).strip()))
            self._current = None


def _parse_html(body: bytes, *, base_url: str) -> list[ListedFile]:
    """PEP 503 anchors with PEP 592 (yank), PEP 503 requires-python and PEP 658/714 metadata."""
    parser = _Anchors()
    try:
        parser.feed(body.decode("utf-8", errors="replace"))
    except (ValueError, AssertionError) as exc:
        raise UpstreamError(f"malformed PEP 503 page: {exc}") from exc
    files = []
    for attrs, text in parser.anchors:
        url, fragment = urldefrag(urljoin(base_url, attrs.get("href", "")))
        sha256 = fragment.removeprefix("sha256=").lower() if fragment.startswith("sha256=") else ""
        metadata = attrs.get("data-core-metadata", attrs.get("data-dist-info-metadata", ""))
        files.append(
            ListedFile(
                filename=text or url.rsplit("/", 1)[-1],
                url=url,
                sha256=sha256,
                size=None,
                upload_time=None,
                requires_python=attrs.get("data-requires-python", "")[:200],
                yanked="data-yanked" in attrs,
                yanked_reason=attrs.get("data-yanked", ""),
                metadata_sha256=metadata.removeprefix("sha256=").lower()
                if metadata.startswith("sha256=")
                else "",
            )
        )
    return files


def _valid_files(files: list[ListedFile], normalized: str) -> list[ListedFile]:
    """Files this index can serve and verify: a distribution filename of this project, a
    sha256 to check the bytes against, an http(s) URL. Others are left out."""
    kept, seen = [], set()
    for listed in files:
        try:
            check_characters(listed.filename)
            parsed = parse_filename(listed.filename)
        except FilenameError:
            continue
        if (
            lookup_name(parsed.name) != normalized
            or len(str(parsed.version)) > MAX_VERSION_LENGTH
            or not _SHA256.match(listed.sha256)
            or urlsplit(listed.url).scheme not in ("http", "https")
            or listed.filename in seen
            or len(listed.filename) > 255
        ):
            continue
        if listed.metadata_sha256 and not _SHA256.match(listed.metadata_sha256):
            listed = ListedFile(**{**listed.__dict__, "metadata_sha256": ""})
        seen.add(listed.filename)
        kept.append(listed)
    return kept
