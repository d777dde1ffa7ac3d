"""Who is reading, on every read route: HTTP Basic credentials, and INDEX_READ_ACCESS.

Every path is a read route except the ones that are not (`OPEN_PREFIXES`: login and account
pages, owners' management, admin, uploads, health, metrics, static files), so a route added
later is protected without anyone remembering to. On a read route:

1. `Authorization: Basic` is checked (accounts/basic.py); wrong credentials answer 401 with a
   challenge. The identity goes on the request as `basic_user`/`basic_token` for
   `permissions.reader_of`, never as `request.user`: Basic credentials read, they do not log in.
2. `permissions.index_read_denial`: with INDEX_READ_ACCESS=authenticated an anonymous reader
   gets 401 and `WWW-Authenticate: Basic`, or a browser on a website page the login page.
3. With INDEX_READ_ACCESS=authenticated every answer is made private (no shared cache, no CDN).
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse

from accounts.basic import BasicAuthError, authenticate_basic
from packages import permissions
from packages.responses import make_private

OPEN_PREFIXES = (
    "/account/",
    "/manage/",
    "/admin/",
    "/django-rq/",
    "/legacy",
    "/_health/",
    "/metrics",
    "/static/",
)
# What installers and tools read: a challenge, never a login page.
API_PREFIXES = ("/simple/", "/pypi/", "/packages/", "/rss/", "/_img/")


def is_read_route(path: str) -> bool:
    return not path.startswith(OPEN_PREFIXES)


def challenge(message: str, *, retry_after: int | None = None) -> HttpResponse:
    """401 with the Basic challenge that makes pip, uv and poetry send (or ask for)
    credentials; 429 when the caller is over its limit of failed attempts."""
    status = 401 if retry_after is None else 429
    response = HttpResponse(
        f"{status} {message}\n", status=status, content_type="text/plain; charset=utf-8"
    )
    realm = settings.SITE_NAME.replace("\\", "").replace('"', "")
    response["WWW-Authenticate"] = f'Basic realm="{realm}", charset="UTF-8"'
    response["Cache-Control"] = "no-store"
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    return response


class ReadAccessMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not is_read_route(request.path):
            return self.get_response(request)
        try:
            identity = authenticate_basic(request)
        except BasicAuthError as exc:
            return challenge(exc.message, retry_after=exc.retry_after)
        if identity is not None:
            request.basic_user = identity.user
            request.basic_token = identity.token
        if settings.INDEX_READ_ACCESS == "public":
            return self.get_response(request)
        reader = permissions.reader_of(request)
        if denial := permissions.index_read_denial(user=reader.user):
            if request.path.startswith(API_PREFIXES) or "text/html" not in request.headers.get(
                "Accept", ""
            ):
                return challenge(denial.message)
            return redirect_to_login(request.get_full_path())
        return make_private(self.get_response(request))
