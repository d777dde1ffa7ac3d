"""Outermost middleware: a request id for every request, and request metrics."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from operations.logs import current_request_id
from pypi_site import metrics

REQUEST_ID_HEADER = "X-Request-ID"
# What a proxy or client may send as its id: short, and nothing that could forge a log line
# or a header (no spaces, quotes or control characters).
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:+/=-]{1,128}")
# Requests no URL pattern matched (404s, static files served by whitenoise).
UNRESOLVED = "<unresolved>"


class RequestIdMiddleware:
    """Takes the id from X-Request-ID when it is sane (so a proxy's id follows the request
    into our logs), otherwise makes one; logs carry it and the response echoes it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        offered = request.META.get("HTTP_X_REQUEST_ID", "")
        request_id = offered if _SANE_REQUEST_ID.fullmatch(offered) else secrets.token_hex(16)
        request.request_id = request_id
        # Not reset on the way out: Django logs a 4xx or 5xx after the middleware returns.
        # OperationsConfig.ready clears it when the next request starts or this one ends.
        current_request_id.set(request_id)
        response = self.get_response(request)
        response[REQUEST_ID_HEADER] = request_id
        return response


class RequestMetricsMiddleware:
    """Counts each request by route (its URL pattern name: bounded, unlike paths), method and
    status, and times it until the response is made (a streamed file's transfer is not
    included)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        start = time.perf_counter()
        response = self.get_response(request)
        elapsed = time.perf_counter() - start
        match = getattr(request, "resolver_match", None)
        route = match.view_name if match is not None else UNRESOLVED
        method = request.method if request.method in _METHODS else "other"
        metrics.HTTP_REQUESTS.labels(route=route, method=method, status=response.status_code).inc()
        metrics.HTTP_REQUEST_SECONDS.labels(route=route).observe(elapsed)
        return response


# Anything else a client invents is one label value, not one each.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
