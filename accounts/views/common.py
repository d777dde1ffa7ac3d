"""Helpers the account and collaboration views share."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme

from accounts.ratelimits import RateLimited


def next_url(request: HttpRequest, default: str = "/manage/account/") -> str:
    """The `next` parameter if it is a path on this site, else `default`. Only a path: redirect()
    would take anything else without a `/` or `.` for a view name, and fail to reverse it."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target.startswith("/") and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


def too_many_requests(request: HttpRequest, exc: RateLimited) -> HttpResponse:
    response = render(
        request,
        "accounts/rate_limited.html",
        {"message": exc.message, "retry_after": exc.retry_after},
        status=429,
    )
    response["Retry-After"] = str(exc.retry_after)
    return response
