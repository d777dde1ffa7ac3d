"""Private projects: to an outsider (anonymous, another logged-in user, their read token, a
token scoped to another project) a private project does not exist on any route that takes a
project name, nor in any listing; its collaborators, a scoped read token and staff see it.
Cached pages never cross from a member to an outsider. Run on SQLite with the file cache and
on PostgreSQL with Redis (the README's test commands)."""

from __future__ import annotations

import json
import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from accounts.models import ApiToken
from accounts.tokens import create_api_token
from packages import history, static_pages
from packages.models import File, Project, Role
from packages.visibility import set_project_visibility
from tests.factories import basic_auth, make_project, make_user, post_upload, wheel_upload

pytestmark = pytest.mark.django_db

SECRET = "hush-secret"
MISSING = "never-was-here"
TWIN = "open-twin"  # public, with the same releases: what a visible project answers


@pytest.fixture
def world(client, settings, django_capture_on_commit_callbacks):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    alice = make_user("alice")  # Owner
    bob = make_user("bob")  # Maintainer
    mallory = make_user("mallory")  # outsider
    staff = make_user("sam", is_staff=True)
    upload_token = create_api_token(user=alice).plaintext
    with django_capture_on_commit_callbacks(execute=True):
        for name in (SECRET, TWIN):
            for version in ("1.0", "1.1"):
                response = post_upload(client, wheel_upload(name, version), upload_token)
                assert response.status_code == 200, response.content
    secret = Project.objects.get(name=SECRET)
    Role.objects.create(user=bob, project=secret, role_name="Maintainer")
    other = make_project("other-thing", owner=alice)
    with django_capture_on_commit_callbacks(execute=True):
        set_project_visibility(project=secret, private=True, user=alice)
    secret.refresh_from_db()
    file = File.objects.filter(release__project=secret).order_by("pk").first()
    return {
        "alice": alice,
        "bob": bob,
        "mallory": mallory,
        "staff": staff,
        "secret": secret,
        "file": file,
        "tokens": {
            "outsider's read token": create_api_token(user=mallory, read_only=True).plaintext,
            "outsider's upload token": create_api_token(user=mallory).plaintext,
            "token scoped to another project": create_api_token(
                user=alice, projects=[other], read_only=True
            ).plaintext,
            "scoped read token": create_api_token(
                user=alice, projects=[secret], read_only=True
            ).plaintext,
            "collaborator's upload token": create_api_token(user=bob).plaintext,
            "staff's read token": create_api_token(user=staff, read_only=True).plaintext,
        },
    }


OUTSIDERS = [
    "anonymous",
    "logged-in outsider",
    "outsider's read token",
    "outsider's upload token",
    "token scoped to another project",
]
INSIDERS = [
    "collaborator",
    "owner",
    "staff",
    "scoped read token",
    "collaborator's upload token",
    "staff's read token",
]


def as_identity(client, world, identity: str) -> dict:
    """Log the client in, or return the Authorization header for a token identity."""
    sessions = {
        "logged-in outsider": "mallory",
        "collaborator": "bob",
        "owner": "alice",
        "staff": "staff",
    }
    if identity in sessions:
        client.force_login(world[sessions[identity]])
        session = client.session
        session["accounts.authenticated_at"] = timezone.now().timestamp()
        session.save()
        return {}
    if identity == "anonymous":
        return {}
    return {"HTTP_AUTHORIZATION": basic_auth(world["tokens"][identity])}


def _walk(resolver: URLResolver, prefix: str = ""):
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            yield from _walk(entry, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern), entry


def project_routes() -> list[str]:
    """Every route whose pattern takes a project `name`: a new one is caught here without
    anyone listing it."""
    routes = []
    for route, entry in _walk(get_resolver()):
        if "name" in entry.pattern.regex.groupindex:
            routes.append(route)
    return sorted(set(routes))


def fill(route: str, name: str, world) -> str:
    values = {
        "name": name,
        "version": "1.0",
        "file_id": str(world["file"].pk),
        "filename": world["file"].filename.replace(
            SECRET.replace("-", "_"), name.replace("-", "_")
        ),
        "subscription_id": "1",
        "delivery_id": "00000000-0000-4000-8000-000000000000",
        # The point-in-time view (/as-of/): now, when the project exists.
        "moment": history.format_moment(timezone.now()),
    }
    path = route
    for key, value in values.items():
        for converter in ("str", "int", "uuid", "path", "slug"):
            path = path.replace(f"<{converter}:{key}>", value)
        path = path.replace(f"<{key}>", value)
    # Anything else a route takes (a team's name, say) gets a plain value: the same for the
    # hidden and the missing name, so only the project name differs.
    path = re.sub(r"<(?:\w+:)?\w+>", "any", path)
    return "/" + path.lstrip("^").rstrip("$")


def file_urls(world) -> list[str]:
    file = world["file"]
    return [f"/packages/{file.path}", f"/packages/{file.path}.metadata"]


def test_the_walk_finds_the_routes_that_take_a_name():
    routes = project_routes()
    for expected in ("simple/<str:name>/", "pypi/<str:name>/json", "project/<str:name>/"):
        assert expected in routes
    assert any("rss/project" in r for r in routes)
    assert any("manage/project" in r for r in routes)
    assert len(routes) >= 20


@pytest.mark.parametrize("identity", OUTSIDERS)
def test_private_project_does_not_exist_for_an_outsider_on_any_route(client, world, identity):
    headers = as_identity(client, world, identity)
    checked = 0
    for route in project_routes():
        for method in ("get", "post"):
            send = getattr(client, method)
            hidden = send(fill(route, SECRET, world), **headers)
            missing = send(fill(route, MISSING, world), **headers)
            assert hidden.status_code == missing.status_code, (route, method)
            if hidden.status_code in (301, 302):
                assert hidden["Location"].replace(SECRET, MISSING) == missing["Location"]
            if not route.startswith("manage/") and method == "get":
                assert hidden.status_code == 404, route
            assert SECRET.encode() not in hidden.content, (route, method)
            checked += 1
    for url in file_urls(world):
        response = client.get(url, **headers)
        assert response.status_code == 404, url
        checked += 1
    assert checked >= 40


@pytest.mark.parametrize("identity", INSIDERS)
def test_private_project_is_there_for_members_scoped_tokens_and_staff(client, world, identity):
    headers = as_identity(client, world, identity)
    for route in project_routes():
        if route.startswith("manage/"):
            continue
        response = client.get(fill(route, SECRET, world), **headers)
        # Whatever the route answers for a public project, it answers for this reader here
        # (a route whose `name` is not a project's answers 404 to both).
        twin = client.get(fill(route, TWIN, world), **headers)
        assert response.status_code == twin.status_code, (route, response.status_code)
        if response.status_code == 200:
            assert response["Cache-Control"].startswith("private"), route
            assert "Authorization" in response["Vary"] and "Cookie" in response["Vary"], route
            assert "Surrogate-Key" not in response
    for url in file_urls(world):
        response = client.get(url, **headers)
        assert response.status_code == 200, url
        assert response["Cache-Control"].startswith("private")


def test_owner_reaches_the_management_pages(client, world):
    """(405: the route takes only POST, as for a public project; the 404 test covers POST.)"""
    as_identity(client, world, "owner")
    for route in project_routes():
        if route.startswith("manage/project/") and "<" not in route.replace("<str:name>", ""):
            assert client.get(fill(route, SECRET, world)).status_code in (200, 405), route


LISTINGS = [
    "/simple/",
    "/",
    f"/search/?q={SECRET}",
    "/search/?q=hush",
    "/search/?o=-updated",
    "/rss/updates.xml",
    "/rss/packages.xml",
    "/user/alice/",
    "/user/bob/",
]


@pytest.mark.parametrize("identity", OUTSIDERS)
def test_private_project_is_absent_from_every_listing(client, world, identity):
    headers = as_identity(client, world, identity)
    for url in LISTINGS:
        response = client.get(url, **headers)
        assert response.status_code == 200, url
        # A search page repeats its query; any other mention, or any link, is a leak.
        needles = [f"/project/{SECRET}/", f"/simple/{SECRET}/"]
        if SECRET not in url:
            needles.append(SECRET)
        for needle in needles:
            assert needle.encode() not in response.getvalue(), (url, needle)
    response = client.get("/simple/", HTTP_ACCEPT="application/vnd.pypi.simple.v1+json", **headers)
    assert SECRET not in {p["name"] for p in json.loads(response.getvalue())["projects"]}


@pytest.mark.parametrize("identity", ["collaborator", "scoped read token", "staff"])
def test_members_find_their_private_project_in_the_simple_index_and_user_pages(
    client, world, identity
):
    headers = as_identity(client, world, identity)
    assert SECRET.encode() in client.get("/simple/", **headers).getvalue()
    assert SECRET.encode() in client.get("/user/alice/", **headers).content
    found = client.get(f"/search/?q={SECRET}", **headers).content
    assert f"/project/{SECRET}/".encode() in found


def test_a_cached_private_page_is_never_served_to_an_outsider(client, world):
    """Fill every cache tier as a member, then read as outsiders: 404 and no private bytes,
    and a member's /simple/ root (which lists the project) never reaches an outsider."""
    urls = [f"/simple/{SECRET}/", f"/pypi/{SECRET}/json", f"/pypi/{SECRET}/1.0/json", "/simple/"]
    member = as_identity(client, world, "collaborator")
    etags = {}
    for url in urls:
        for encoding in ("gzip", ""):
            response = client.get(url, HTTP_ACCEPT_ENCODING=encoding, **member)
            assert response.status_code == 200
            etags[url] = response["ETag"]
    assert SECRET.encode() in client.get("/simple/").getvalue()
    client.logout()
    for identity in OUTSIDERS:
        headers = as_identity(client, world, identity)
        for url in urls[:-1]:
            for encoding in ("gzip", ""):
                response = client.get(url, HTTP_ACCEPT_ENCODING=encoding, **headers)
                assert response.status_code == 404, (identity, url)
        root = client.get("/simple/", **headers)
        assert SECRET.encode() not in root.getvalue()
        assert root["Cache-Control"].startswith("public")
        client.logout()
    # The member still gets 304 for what they hold.
    as_identity(client, world, "collaborator")
    for url, etag in etags.items():
        assert client.get(url, HTTP_IF_NONE_MATCH=etag).status_code == 304, url


def test_public_pages_keep_their_public_headers(client, world):
    make_project("open-thing", owner=world["alice"])
    response = client.get("/simple/open-thing/")
    assert response.status_code == 200
    assert response["Cache-Control"] == "public, max-age=600"
    assert "Surrogate-Key" in response
    assert "Authorization" not in response["Vary"]


def test_a_private_name_is_still_taken(client, world):
    token = world["tokens"]["outsider's upload token"]
    response = post_upload(client, wheel_upload(SECRET, "9.0"), token)
    assert response.status_code == 403
    assert not Project.objects.filter(name=SECRET).exclude(pk=world["secret"].pk).exists()


def test_a_read_token_cannot_upload(client, world):
    response = post_upload(
        client, wheel_upload(SECRET, "2.0"), world["tokens"]["scoped read token"]
    )
    assert response.status_code == 403
    assert response.reason_phrase == "Invalid API Token: a read-only token cannot upload."
    read = create_api_token(user=world["alice"], read_only=True).plaintext
    response = post_upload(client, wheel_upload("brand-new", "1.0"), read)
    assert response.status_code == 403
    assert not Project.objects.filter(name="brand-new").exists()


def test_owner_makes_a_project_public_again_from_the_settings_page(client, world):
    as_identity(client, world, "owner")
    url = f"/manage/project/{SECRET}/visibility/"
    response = client.post(url, {"visibility": "public"})
    assert response.status_code == 302
    world["secret"].refresh_from_db()
    assert not world["secret"].is_private
    client.logout()
    assert client.get(f"/simple/{SECRET}/").status_code == 200
    assert SECRET.encode() in client.get("/simple/").getvalue()


def test_visibility_change_needs_an_owner_and_a_fresh_password(client, world):
    as_identity(client, world, "collaborator")
    url = f"/manage/project/{SECRET}/visibility/"
    assert client.post(url, {"visibility": "public"}).status_code == 403
    client.force_login(world["alice"])  # no recent password
    response = client.post(url, {"visibility": "public"})
    assert response["Location"].startswith("/account/reauthenticate/")
    world["secret"].refresh_from_db()
    assert world["secret"].is_private


def test_set_project_visibility_command(world):
    out = StringIO()
    call_command("set_project_visibility", SECRET, "public", "--dry-run", stdout=out)
    assert "Would make" in out.getvalue()
    world["secret"].refresh_from_db()
    assert world["secret"].is_private
    call_command("set_project_visibility", SECRET.upper(), "public", "--actor", "ops", stdout=out)
    world["secret"].refresh_from_db()
    assert not world["secret"].is_private
    event = world["secret"].events.order_by("-time", "-id").first()
    assert event.tag == "project:visibility:set"
    assert event.additional["visibility"] == "public"


def test_create_api_token_command_makes_read_tokens(client, world):
    out = StringIO()
    call_command("create_api_token", "mallory", "--read-only", stdout=out, stderr=StringIO())
    token = ApiToken.objects.filter(user=world["mallory"], read_only=True).latest("created")
    assert not token.scoped
    out = StringIO()
    call_command(
        "create_api_token",
        "bob",
        "--read-only",
        "--project",
        SECRET,
        stdout=out,
        stderr=StringIO(),
    )
    plaintext = out.getvalue().strip().splitlines()[-1]
    response = client.get(f"/simple/{SECRET}/", HTTP_AUTHORIZATION=basic_auth(plaintext))
    assert response.status_code == 200


def test_static_pages_never_publish_a_private_project(settings, world, client):
    settings.STATIC_SIMPLE_PAGES = True
    settings.REDIS_URL = ""
    settings.CDN_PURGE_URL = ""
    static_pages.publish_root(force=True)
    assert static_pages.publish_project(normalized_name=SECRET, force=True) in (
        static_pages.REMOVED,
        static_pages.ABSENT,
    )
    from django.core.files.storage import storages

    storage = storages["default"]
    assert not storage.exists(f"simple/{SECRET}/index.html")
    assert SECRET.encode() not in storage.open("simple/_root/index.html").read()
    # Its files are hidden from nginx by markers, as a quarantined project's are.
    assert storage.exists(f"simple/.quarantined/{world['file'].path}")
    set_project_visibility(project=world["secret"], private=False)
    static_pages.publish_project(normalized_name=SECRET, force=True)
    static_pages.publish_root(force=True)
    assert storage.exists(f"simple/{SECRET}/index.html")
    assert not storage.exists(f"simple/.quarantined/{world['file'].path}")


def test_the_one_project_rule_and_the_listing_rule_agree(world):
    """see_project_denial (one compiled query, for one project) and readable_projects (the listings'
    filter) are two forms of one rule: every identity gets the same answer from both."""
    from django.contrib.auth.models import AnonymousUser
    from django.db.models import Q

    from accounts.freezing import freeze_user
    from accounts.tokens import find_api_token
    from packages import permissions

    frozen = make_user("frank")
    Role.objects.create(user=frozen, project=world["secret"], role_name="Owner")
    freeze_user(user=frozen, reason="test")
    identities = [(AnonymousUser(), None), (frozen, None)]
    identities += [(world[name], None) for name in ("alice", "bob", "mallory", "staff")]
    for plaintext in world["tokens"].values():
        token = find_api_token(plaintext)
        identities.append((token.user, token))
    staff_scoped = create_api_token(user=world["staff"], projects=[world["secret"]])
    identities.append((world["staff"], find_api_token(staff_scoped.plaintext)))
    answers = set()
    for user, token in identities:
        one = permissions.see_project_denial(user=user, project=world["secret"], token=token)
        rule = permissions.readable_projects(user=user, token=token)
        listed = Project.objects.filter(rule or Q(), pk=world["secret"].pk).exists()
        assert (one is None) == listed, (user, token)
        answers.add(listed)
    assert answers == {True, False}


def test_members_of_the_owning_organization_read_its_private_project(client, world):
    """The organization clause of the read rule: any member (here a plain Member, no team, no
    project role) reads it, in one project's routes and in listings; not once the organization
    is frozen, and never an outsider."""
    from organizations.models import OrganizationRole
    from tests.factories import make_organization

    member = make_user("mia")
    acme = make_organization("acme", owner=world["alice"])
    OrganizationRole.objects.create(user=member, organization=acme, role_name="Member")
    Project.objects.filter(pk=world["secret"].pk).update(organization=acme)
    token = create_api_token(user=member, read_only=True).plaintext
    assert f"/project/{SECRET}/".encode() not in client.get("/org/acme/").content
    client.force_login(member)
    assert client.get(f"/simple/{SECRET}/").status_code == 200
    assert SECRET.encode() in client.get("/simple/").getvalue()
    assert f"/project/{SECRET}/".encode() in client.get("/org/acme/").content
    client.logout()
    auth = basic_auth(token)
    assert client.get(f"/pypi/{SECRET}/json", HTTP_AUTHORIZATION=auth).status_code == 200
    assert client.get(f"/packages/{world['file'].path}", HTTP_AUTHORIZATION=auth).status_code == 200
    outsider = basic_auth(world["tokens"]["outsider's read token"])
    assert client.get(f"/simple/{SECRET}/", HTTP_AUTHORIZATION=outsider).status_code == 404
    type(acme).objects.filter(pk=acme.pk).update(is_active=False)  # frozen by staff
    assert client.get(f"/simple/{SECRET}/", HTTP_AUTHORIZATION=auth).status_code == 404
