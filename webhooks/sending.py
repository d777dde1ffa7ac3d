"""One attempt at a delivery: the body, its signature, an HTTP POST that can only reach public
addresses (packages/outbound.py), and the attempt written to the delivery's log row.

The body is the stored payload as compact JSON with sorted keys, so every attempt and every
redelivery of a row sends the same bytes. The signature header is
`X-Index-Signature-256: sha256=<hex HMAC-SHA256 of the body keyed by the subscription secret>`.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from packages.outbound import (
    AddressRefused,
    CheckedHTTPConnection,
    CheckedHTTPSConnection,
    HostNotFound,
)
from webhooks.models import Delivery, DeliveryStatus

DELIVERY_HEADER = "X-Index-Delivery"
EVENT_HEADER = "X-Index-Event"
SIGNATURE_HEADER = "X-Index-Signature-256"
USER_AGENT = "package-index-webhooks"
# Enough of the receiver's answer to debug it from the log; the rest is never read.
EXCERPT_BYTES = 1024


@dataclass(frozen=True)
class Attempt:
    delivered: bool
    # False when trying again cannot help (the address is refused, the hook is switched off).
    retryable: bool
    error: str = ""


def body_of(delivery: Delivery) -> bytes:
    return json.dumps(delivery.payload, sort_keys=True, separators=(",", ":")).encode()


def signature(*, secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def attempt(delivery: Delivery, *, will_retry: bool) -> Attempt:
    """POST the delivery once and log the outcome on its row (2xx is success; a redirect is
    not followed and counts as a failure). `will_retry` only chooses the status shown."""
    subscription = delivery.subscription
    if not subscription.active:
        _record(delivery, status=DeliveryStatus.FAILED, error="The webhook is switched off.")
        return Attempt(delivered=False, retryable=False, error="switched off")
    body = body_of(delivery)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        DELIVERY_HEADER: str(delivery.pk),
        EVENT_HEADER: delivery.event,
        SIGNATURE_HEADER: signature(secret=subscription.secret, body=body),
    }
    started = time.monotonic()
    status_code, excerpt, error, retryable = None, b"", "", True
    try:
        status_code, excerpt = _post(url=subscription.url, body=body, headers=headers)
    except AddressRefused as exc:
        error, retryable = f"{exc} Set WEBHOOKS_ALLOW_PRIVATE=1 to allow it.", False
    except HostNotFound as exc:
        error = str(exc)
    except TimeoutError:
        error = f"No answer within {settings.WEBHOOKS_TIMEOUT} seconds."
    except (OSError, http.client.HTTPException, ValueError) as exc:
        error = f"{type(exc).__name__}: {exc}"
    else:
        if 300 <= status_code < 400:
            error = f"The receiver answered {status_code}; redirects are not followed."
        elif not 200 <= status_code < 300:
            error = f"The receiver answered {status_code}."
    if not error:
        status = DeliveryStatus.DELIVERED
    elif will_retry and retryable:
        status = DeliveryStatus.RETRYING
    else:
        status = DeliveryStatus.FAILED
    _record(
        delivery,
        status=status,
        status_code=status_code,
        error=error,
        duration_ms=round((time.monotonic() - started) * 1000),
        response_excerpt=excerpt.decode("utf-8", "replace"),
    )
    return Attempt(delivered=not error, retryable=retryable, error=error)


def _post(*, url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    """One POST with http.client, which never follows redirects; connections go through
    packages/outbound.py, so a host resolving to a private address is refused."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValueError(f"Not an http(s) URL: {url!r}")
    connection_class = CheckedHTTPSConnection if parts.scheme == "https" else CheckedHTTPConnection
    connection = connection_class(
        parts.hostname,
        parts.port,
        timeout=settings.WEBHOOKS_TIMEOUT,
        allow_private=settings.WEBHOOKS_ALLOW_PRIVATE,
    )
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request("POST", target, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read(EXCERPT_BYTES)
    finally:
        connection.close()


def _record(delivery: Delivery, *, status: str, **fields: object) -> None:
    Delivery.objects.filter(pk=delivery.pk).update(
        status=status, attempts=F("attempts") + 1, last_attempt=timezone.now(), **fields
    )
