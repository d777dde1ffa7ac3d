"""INDEX_READ_ACCESS=authenticated and HTTP Basic credentials on read routes: every read route
challenges an anonymous reader, open routes stay open, tokens and (when allowed) passwords
read, wrong credentials are refused and rate-limited, answers are private."""

from __future__ import annotations

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from accounts.models import Account
from accounts.tokens import create_api_token
from packages.middleware import is_read_route
from tests.factories import basic_auth, make_project, make_release, make_user

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery"


@pytest.fixture
def private_index(settings):
    settings.INDEX_READ_ACCESS = "authenticated"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    alice = make_user("alice")
    alice.set_password(PASSWORD)
    alice.save()
    project = make_project("demo", owner=alice)
    make_release(project, "1.0", summary="A demo")
    return alice


READ_URLS = [
    "/",
    "/simple/",
    "/simple/demo/",
    "/pypi/demo/json",
    "/project/demo/",
    "/search/?q=demo",
    "/rss/updates.xml",
    "/rss/packages.xml",
    "/rss/project/demo/releases.xml",
    "/user/alice/",
    "/classifiers/",
    "/help/",
    "/packages/aa/bb/" + "c" * 60 + "/demo-1.0-py3-none-any.whl",
]
OPEN_URLS = ["/_health/", "/account/login/", "/account/register/"]


def test_every_read_route_challenges_an_anonymous_reader(client, private_index):
    for url in READ_URLS:
        response = client.get(url)
        assert response.status_code == 401, url
        assert response["WWW-Authenticate"].startswith('Basic realm="')
        assert b"demo" not in response.content


def test_browsers_are_sent_to_the_login_page_from_website_pages(client, private_index):
    response = client.get("/project/demo/", HTTP_ACCEPT="text/html,application/xhtml+xml")
    assert response.status_code == 302
    assert response["Location"] == "/account/login/?next=/project/demo/"
    # Installers send text/html too, and still get the challenge on the simple API.
    assert client.get("/simple/demo/", HTTP_ACCEPT="text/html").status_code == 401


def test_open_routes_stay_open(client, private_index):
    for url in OPEN_URLS:
        assert client.get(url).status_code == 200, url


def test_every_route_outside_the_open_list_is_a_read_route():
    """A route added later is protected unless someone opens it on purpose."""

    def walk(resolver, prefix=""):
        for entry in resolver.url_patterns:
            if isinstance(entry, URLResolver):
                yield from walk(entry, prefix + str(entry.pattern))
            elif isinstance(entry, URLPattern):
                yield "/" + (prefix + str(entry.pattern)).lstrip("^")

    routes = list(walk(get_resolver()))
    assert any(r.startswith("/simple/") for r in routes)
    for route in routes:
        opened = route.startswith(
            ("/account/", "/manage/", "/admin/", "/django-rq/", "/legacy", "/_health/", "/metrics")
        )
        assert is_read_route(route) is not opened, route


def test_a_token_reads_and_the_answer_is_private(client, private_index):
    token = create_api_token(user=private_index, read_only=True).plaintext
    for url in READ_URLS[:-1]:
        response = client.get(url, HTTP_AUTHORIZATION=basic_auth(token))
        assert response.status_code == 200, url
        assert response["Cache-Control"] == "private, no-cache", url
        assert "Surrogate-Key" not in response and "Surrogate-Control" not in response
        assert "Authorization" in response["Vary"] and "Cookie" in response["Vary"]
    etag = client.get("/simple/demo/", HTTP_AUTHORIZATION=basic_auth(token))["ETag"]
    again = client.get(
        "/simple/demo/", HTTP_AUTHORIZATION=basic_auth(token), HTTP_IF_NONE_MATCH=etag
    )
    assert again.status_code == 304


def test_a_session_reads(client, private_index):
    client.force_login(private_index)
    assert client.get("/simple/demo/").status_code == 200


def test_wrong_tokens_are_refused_then_rate_limited(client, private_index, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "basic_auth_ip": "3/300"}
    bad = basic_auth("pypi-nothing.wrong")
    statuses = [client.get("/simple/", HTTP_AUTHORIZATION=bad).status_code for _ in range(5)]
    assert statuses == [401, 401, 401, 429, 429]
    # Also on a public index: wrong credentials are an error, not "anonymous".
    settings.INDEX_READ_ACCESS = "public"
    assert (
        client.get("/simple/", HTTP_AUTHORIZATION=basic_auth("x", username="y")).status_code == 401
    )


def test_garbage_basic_credentials_are_a_401(client, private_index, settings):
    import base64

    def basic(raw: bytes) -> str:
        return "Basic " + base64.b64encode(raw).decode()

    headers = [
        "Basic !!!",
        "Basic ",
        "Basic YWJj=",
        "Basic " + "A" * 5000,
        "Basic bm9jb2xvbg==",
        basic(b"__token__:\xff\xfe"),
        basic(b"\xff:pw"),
        basic(b"__token__:pypi-\x00\x00.\x00"),
        basic(b"__token__:"),
        basic(b"__token__:pypi-."),
        basic(b"__token__:pypi-" + b"a" * 3000 + b"." + b"b" * 3000),
        basic(b"ali\x00ce:pw"),
        basic(b"alice:p\x00w"),
        basic(b"a" * 3000 + b":pw"),
    ]
    settings.READ_BASIC_AUTH_PASSWORDS = True
    for header in headers:
        for url in ("/simple/", "/simple/demo/", "/pypi/demo/json"):
            response = client.get(url, HTTP_AUTHORIZATION=header)
            assert response.status_code in (401, 429), (header[:40], url)


def test_passwords_read_only_when_allowed_and_without_2fa(client, private_index, settings):
    good = basic_auth(PASSWORD, username="alice")
    assert client.get("/simple/demo/", HTTP_AUTHORIZATION=good).status_code == 401
    settings.READ_BASIC_AUTH_PASSWORDS = True
    assert client.get("/simple/demo/", HTTP_AUTHORIZATION=good).status_code == 200
    assert client.get("/simple/demo/", HTTP_AUTHORIZATION=good).status_code == 200  # memo
    wrong = basic_auth("nope", username="alice")
    assert client.get("/simple/demo/", HTTP_AUTHORIZATION=wrong).status_code == 401
    # A password change ends the remembered check.
    private_index.set_password("another one entirely")
    private_index.save()
    assert client.get("/simple/demo/", HTTP_AUTHORIZATION=good).status_code == 401
    private_index.set_password(PASSWORD)
    private_index.save()
    Account.objects.update_or_create(user=private_index, defaults={"totp_secret": "A" * 32})
    response = client.get("/simple/demo/", HTTP_AUTHORIZATION=good)
    assert response.status_code == 401
    assert b"two-factor" in response.content


def test_password_failures_count_against_the_login_limit(client, private_index, settings):
    settings.READ_BASIC_AUTH_PASSWORDS = True
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "login_user": "2/300"}
    wrong = basic_auth("nope", username="alice")
    statuses = [client.get("/simple/", HTTP_AUTHORIZATION=wrong).status_code for _ in range(3)]
    assert statuses == [401, 401, 429]


def test_basic_credentials_never_log_in_to_the_website(client, private_index):
    token = create_api_token(user=private_index).plaintext
    response = client.get("/manage/account/token/", HTTP_AUTHORIZATION=basic_auth(token))
    assert response.status_code == 302
    assert response["Location"].startswith("/account/login/")


def test_the_token_page_makes_read_only_tokens_that_read_and_never_upload(client, settings):
    from accounts.models import ApiToken, Email
    from packages.visibility import set_project_visibility
    from tests.accounts.conftest import register
    from tests.factories import post_upload, wheel_upload

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    register(client, "olive")
    Email.objects.filter(email="olive@example.com").update(verified=True)
    user = Email.objects.get(email="olive@example.com").user
    project = make_project("olive-private", owner=user)
    make_release(project, "1.0")
    set_project_visibility(project=project, private=True)
    page = client.get("/manage/account/token/")
    assert b'name="read_only"' in page.content
    assert b"http://__token__:&lt;the token&gt;@testserver/simple/" in page.content
    data = {"description": "ci read", "projects": [project.pk], "read_only": "on"}
    response = client.post("/manage/account/token/new/", data)
    assert response.status_code == 302
    plaintext = client.get(response.url).context["issued"]["plaintext"]
    token = ApiToken.objects.get(description="ci read")
    assert token.read_only and token.scoped
    assert token.scope_description == "Read only: olive-private"
    client.logout()
    auth = basic_auth(plaintext)
    assert client.get("/simple/olive-private/", HTTP_AUTHORIZATION=auth).status_code == 200
    response = post_upload(client, wheel_upload("olive-private", "2.0"), plaintext)
    assert response.status_code == 403
    assert response.reason_phrase == "Invalid API Token: a read-only token cannot upload."
