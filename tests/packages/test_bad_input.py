"""No input gives a 500: every route of our apps, fed bad names, versions, filenames, keys,
tokens and ids (NUL bytes, 10k characters, non-UTF-8 escapes), answers below 500.

PostgreSQL refuses NUL in a string parameter with a ValueError, the classic 500 that SQLite
hides, so this module is run on both databases.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RoutePattern
from django.utils import timezone

from accounts.login import AUTHENTICATED_AT_KEY
from packages.history import format_moment
from packages.models import File, Project
from tests.factories import (
    make_organization,
    make_team,
    make_token,
    make_user,
    post_upload,
    wheel_upload,
)
from trusted_publishing.models import PendingPublisher, TrustedPublisher
from webhooks.models import Delivery, Subscription

pytestmark = pytest.mark.django_db

# Raw path segments (already percent-encoded as a client would send them).
BAD_SEGMENTS = {
    "nul": "de%00mo",
    "nul-only": "%00",
    "long": "a" * 10_000,
    "long-invalid": "a-" * 5_000 + "%00",
    "non-utf8": "%ff",
    "non-utf8-mixed": "demo%ff%fe",
    "control": "%01%1b%7f",
    "dots": "..",
    "percent": "%25",
    "unicode": "d%C3%A9mo",
    "space": "de%20mo",
    "quote": "%27%22%3C",
    "version-like": "1.0%00",
    "long-digits": "1" * 5_000,  # a valid PEP 440 version past int()'s digit limit
    "crlf": "a%0d%0aSet-Cookie:x",
}
# Values for query strings and POST bodies, percent-encoded as sent.
BAD_VALUES = [
    "%00",
    "a" * 10_000,
    "%ff",
    "a%00b",
    "-1",
    "99999999999999999999",
    "..",
    "%F0%9F%92%A5",
]
FORM = "application/x-www-form-urlencoded"
BAD_INTS = ["0", "99999999999999999999", "2147483648"]
FIELDS = [
    "token",
    "next",
    "q",
    "c",
    "o",
    "page",
    "reason",
    "confirm",
    "username",
    "role_name",
    "role_id",
    "invitation_id",
    "email",
    "description",
    "password",
    "code",
    "totp_value",
    "recovery_code",
    "projects",
    "expires",
    "upload_limit",
    "accept",
    "name",
    "display_name",
    "link_url",
    "team",
    "team_role_id",
    "member_id",
    "organization",
    "kind",
    "owner_id",
    "workflow",
    "issuer_url",
    "issuer",
    "claims",
    "project_name",
]
# Mounts whose views are Django's or django-rq's, not this project's.
SKIPPED_PREFIXES = ("admin/", "django-rq/")
# The route parameters and values that find something, so each parameter is fuzzed alone
# with real values in the others (a bad version of a real project reaches the release lookup).
GOOD = {
    "name": "demo",
    "version": "1.0",
    "username": "alice",
    "action": "delete",
    "team_name": "core",
}


def routes() -> Iterator[tuple[str, URLPattern]]:
    def walk(patterns, prefix: str) -> Iterator[tuple[str, URLPattern]]:
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if route.startswith(SKIPPED_PREFIXES):
                continue
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, route)
            else:
                yield route, pattern

    yield from walk(get_resolver().url_patterns, "")


ROUTES = dict(routes())
PARAM = re.compile(r"<(?:(\w+):)?(\w+)>")


def fuzzed_paths(route: str, pattern: URLPattern, good: dict[str, str]) -> Iterator[str]:
    """Paths with one parameter at a time replaced by each bad value."""
    if not isinstance(pattern.pattern, RoutePattern):
        # The file routes are regexes: bad filenames under a well-formed key, and bad keys
        # (under a good moment, and bad moments, for the point-in-time view's).
        at = f"/as-of/{good['moment']}" if route.startswith("^as-of") else ""
        prefix = f"packages/00/00/{'0' * 60}/"
        for segment in BAD_SEGMENTS.values():
            yield f"{at}/{prefix}{segment}"
            yield f"{at}/{prefix}{segment}.metadata"
            yield f"{at}/packages/{segment}"
            if at:
                yield f"/as-of/{segment}/{good['file_path']}"
        yield f"{at}/{good['file_path']}%00"
        yield f"{at}/{good['file_path']}.metadata%00"
        return
    params = PARAM.findall(route)
    for converter, param in params:
        bad_values = BAD_INTS if converter == "int" else BAD_SEGMENTS.values()
        for bad in bad_values:

            def fill(match: re.Match, param: str = param, bad: str = bad) -> str:
                return bad if match.group(2) == param else good[match.group(2)]

            yield "/" + PARAM.sub(fill, route)


@pytest.fixture
def world(client, django_capture_on_commit_callbacks) -> dict:
    """alice owns demo 1.0 (a real wheel): good values for every route parameter."""
    user = make_user("alice")
    with django_capture_on_commit_callbacks(execute=True):
        upload = wheel_upload("demo", "1.0")
        assert post_upload(client, upload, make_token(user)).status_code == 200
    file = File.objects.get()
    identifier = user.api_tokens.first().identifier
    hook = Subscription.objects.create(
        project=file.release.project, url="https://ci.example.com/", events=["file.uploaded"]
    )
    delivery = Delivery.objects.create(subscription=hook, event="file.uploaded", payload={})
    # An organization "demo" (its own namespace) owning the project, with a team "core".
    organization = make_organization("demo", owner=user)
    make_team(organization, "core", members=[user])
    Project.objects.update(organization=organization)
    publisher = TrustedPublisher.objects.create(
        project=file.release.project, kind="google", email="ci@example.com"
    )
    pending = PendingPublisher.objects.create(
        project_name="later", normalized_name="later", kind="google", email="ci@example.com",
        added_by=user,
    )  # fmt: skip
    return {
        **GOOD,
        "subscription_id": str(hook.pk),
        "delivery_id": str(delivery.pk),
        "publisher_id": str(publisher.pk),
        "pending_id": str(pending.pk),
        "file_id": str(file.pk),
        "filename": file.filename,
        "email_id": str(user.emails.first().pk),
        "identifier": str(identifier),
        "file_path": f"packages/{file.path}",
        "moment": format_moment(timezone.now()),  # the point-in-time view's, after the upload
        "user": user,
    }


def clients(world) -> Iterator[tuple[str, Client]]:
    yield "anonymous", Client()
    owner = Client()
    owner.force_login(world["user"])
    session = owner.session
    session[AUTHENTICATED_AT_KEY] = 2**40  # reauthenticated: destructive pages go on to lookups
    session.save()
    yield "owner", owner


def requests_for(path: str, good_path: str) -> Iterator[tuple[str, str, str]]:
    """(method, path, encoded form): the bad path bare, and on the good path each bad value in
    every field, in the query or the body."""
    yield "GET", path, ""
    yield "POST", path, ""
    if path != good_path:
        return
    for value in BAD_VALUES:
        form = "&".join(f"{field}={value}" for field in FIELDS)
        yield "GET", path, form
        yield "POST", path, form


def send(client: Client, method: str, path: str, form: str) -> str | None:
    """What went wrong, or None for an answer below 500."""
    try:
        if method == "GET":
            response = client.get(f"{path}?{form}" if form else path)
        else:
            response = client.post(path, form, content_type=FORM)
    except Exception as exc:  # the handler would have answered 500
        return f"{method} {path[:90]} {form[:30]}: {type(exc).__name__}: {str(exc)[:120]}"
    if response.status_code >= 500:
        return f"{method} {path[:90]} {form[:30]}: {response.status_code}"
    return None


@pytest.mark.parametrize("route", list(ROUTES))
def test_no_route_answers_500_to_bad_input(world, route):
    pattern = ROUTES[route]
    if isinstance(pattern.pattern, RoutePattern):
        good_path = "/" + PARAM.sub(lambda m: world[m.group(2)], route)
    elif route.startswith("^as-of"):
        good_path = f"/as-of/{world['moment']}/{world['file_path']}"
    else:
        good_path = f"/{world['file_path']}"
    paths = [good_path, *fuzzed_paths(route, pattern, world)]
    failures = [
        f"{who} {failure}"
        for who, client in clients(world)
        for path in dict.fromkeys(paths)
        for method, path_, form in requests_for(path, good_path)
        if (failure := send(client, method, path_, form))
    ]
    assert not failures, "\n".join(failures[:40])


@pytest.mark.parametrize("name", ["%ff", "%FF", "demo%ff", "%00", "de%00mo", "..", "-demo-"])
def test_simple_page_of_an_invalid_name_is_404_not_a_redirect(client, world, name):
    # An invalid name has no normalized form to redirect to; "%FF" used to redirect to "%ff",
    # which Django hands back as "%FF": a loop.
    assert client.get(f"/simple/{name}/").status_code == 404


def test_simple_page_still_redirects_other_spellings(client, world):
    response = client.get("/simple/DEMO/?format=json")
    assert response.status_code == 301
    assert response["Location"] == "/simple/demo/?format=json"


@pytest.mark.parametrize(
    "path",
    [
        "/project/demo/1.0%00/",
        "/project/demo/" + "1" * 5_000 + "/",
        "/pypi/demo/1.0%00/json",
        "/pypi/Demo/a%0d%0ab/json",
        "/rss/project/%00/releases.xml",
        "/user/al%00ice/",
    ],
)
def test_bad_names_and_versions_are_404(client, world, path):
    assert client.get(path).status_code == 404


def test_login_page_ignores_a_next_that_is_not_a_path(world):
    client = Client()
    client.force_login(world["user"])
    response = client.get("/account/login/?next=home")
    assert response.status_code == 302
    assert response["Location"] == "/manage/account/"


def test_server_error_page_renders_without_request_or_database(rf, settings, monkeypatch):
    """Django renders 500.html with an empty context; it must not need the database (which
    may be what failed) or the request."""
    from django.db.backends.base.base import BaseDatabaseWrapper
    from django.views.defaults import server_error

    def no_database(*args, **kwargs):
        raise AssertionError("500.html touched the database")

    monkeypatch.setattr(BaseDatabaseWrapper, "cursor", no_database)
    response = server_error(rf.get("/"))
    assert response.status_code == 500
    body = response.content.decode()
    assert "Something went wrong (500)" in body
    assert 'href="/"' in body and "site.css" in body  # the styled site layout


def test_an_unhandled_error_answers_with_the_styled_500_page(world, monkeypatch):
    from packages.views import pages

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(pages, "site_counts", broken)
    client = Client(raise_request_exception=False)
    response = client.get("/")
    assert response.status_code == 500
    assert "Something went wrong (500)" in response.content.decode()
