"""Images in project descriptions that live on other hosts, served through this site as PyPI
does with camo: readers' browsers never contact those hosts (no IP address, cookie or Referer
leaks to them) and the pages keep the strict `img-src 'self'` policy.

The rendered description links each such image as `/_img/<signature>/<hex of the URL>`. The
signature is an HMAC of the URL keyed by SECRET_KEY, so only URLs this site rendered can be
fetched: the proxy is no open proxy. Descriptions are rendered when a release is stored, so
after changing SECRET_KEY or IMAGE_PROXY run `manage.py rerender_descriptions`.
"""

from __future__ import annotations

import http.client
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.crypto import constant_time_compare, salted_hmac

from packages.outbound import (
    AddressRefused,
    CheckedHTTPConnection,
    CheckedHTTPSConnection,
    HostNotFound,
)

PATH_PREFIX = "/_img/"
MAX_BYTES = 5 * 1024 * 1024
MAX_URL_LENGTH = 2048
TIMEOUT_SECONDS = 5
MAX_REDIRECTS = 3
CACHE_SECONDS = 365 * 24 * 3600
USER_AGENT = "package-index-image-proxy"
# No SVG: it is a document that can carry script and links, not just pixels.
_MAGIC = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "image/webp": (b"RIFF",),
}


class ImageError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Image:
    content_type: str
    body: bytes


def _signature(url: str) -> str:
    return salted_hmac("packages.images", url, algorithm="sha256").hexdigest()


def proxied_src(url: str) -> str | None:
    """What an <img src> pointing at another host becomes in a rendered description: the
    proxy's path, or None (drop the src) when the proxy is off or the URL is not http(s)."""
    parts = urlsplit(url)
    if not settings.IMAGE_PROXY or parts.scheme not in {"http", "https"} or not parts.hostname:
        return None
    if len(url) > MAX_URL_LENGTH:
        return None
    return f"{PATH_PREFIX}{_signature(url)}/{url.encode().hex()}"


def verified_url(*, signature: str, encoded: str) -> str:
    """The URL behind a proxy path, if this site signed it."""
    if not settings.IMAGE_PROXY:
        raise ImageError(404, "The image proxy is turned off.")
    try:
        url = bytes.fromhex(encoded).decode()
    except ValueError:
        raise ImageError(404, "Not an image address this site made.") from None
    if not constant_time_compare(signature, _signature(url)):
        raise ImageError(404, "Not an image address this site made.")
    return url


def fetch_image(url: str) -> Image:
    """Fetch `url` as a browser would an <img>, but from here.

    1. Only http and https, with no proxy from the environment, following at most
       MAX_REDIRECTS redirects; every connection (redirects too) goes through
       packages/outbound.py: refused unless the host resolves to public addresses only
       (IMAGE_PROXY_ALLOW_PRIVATE lifts that for tests and closed networks), and made to the
       address that was checked.
    2. Nothing of the reader is forwarded: a fixed User-Agent and Accept, no cookie, no Referer.
    3. Only PNG, JPEG, GIF and WebP, by declared type and by their first bytes, up to MAX_BYTES,
       within TIMEOUT_SECONDS for each read and twice that overall.
    """
    if urlsplit(url).scheme not in {"http", "https"}:
        raise ImageError(400, "Only http and https images are proxied.")
    request = urllib.request.Request(
        url, headers={"User-Agent": USER_AGENT, "Accept": ", ".join(_MAGIC)}
    )
    deadline = time.monotonic() + 2 * TIMEOUT_SECONDS
    try:
        with _OPENER.open(request, timeout=TIMEOUT_SECONDS) as response:
            content_type = response.headers.get_content_type()
            if content_type not in _MAGIC:
                raise ImageError(502, f"The image host sent {content_type}, not an image.")
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > MAX_BYTES:
                raise ImageError(502, "The image is larger than 5 MB.")
            chunks, size = [], 0
            while chunk := response.read(64 * 1024):
                size += len(chunk)
                if size > MAX_BYTES:
                    raise ImageError(502, "The image is larger than 5 MB.")
                if time.monotonic() > deadline:
                    raise ImageError(504, "The image host is too slow.")
                chunks.append(chunk)
    except AddressRefused as exc:
        message = f"The image host {exc.host!r} is not on the public internet."
        raise ImageError(403, message) from None
    except HostNotFound as exc:
        raise ImageError(502, f"The image host {exc.host!r} could not be found.") from None
    except urllib.error.HTTPError as exc:
        raise ImageError(502, f"The image host answered {exc.code}.") from None
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ImageError(502, f"The image could not be fetched: {reason}") from None
    body = b"".join(chunks)
    if not body.startswith(_MAGIC[content_type]) or (
        content_type == "image/webp" and body[8:12] != b"WEBP"
    ):
        raise ImageError(502, f"The image host's content is not {content_type}.")
    return Image(content_type=content_type, body=body)


class _Handler(urllib.request.HTTPHandler):
    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(
            CheckedHTTPConnection, req, allow_private=settings.IMAGE_PROXY_ALLOW_PRIVATE
        )


class _TLSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(
            CheckedHTTPSConnection,
            req,
            context=self._context,
            allow_private=settings.IMAGE_PROXY_ALLOW_PRIVATE,
        )


class _Redirects(urllib.request.HTTPRedirectHandler):
    max_redirections = MAX_REDIRECTS


def _opener() -> urllib.request.OpenerDirector:
    """http and https only (no file:, ftp: or data:), and no proxy taken from the environment."""
    opener = urllib.request.OpenerDirector()
    for handler in (
        _Handler(),
        _TLSHandler(),
        _Redirects(),
        urllib.request.HTTPDefaultErrorHandler(),
        urllib.request.HTTPErrorProcessor(),
    ):
        opener.add_handler(handler)
    return opener


_OPENER = _opener()
