from __future__ import annotations

import time

import pytest
from django.core.files.storage import storages

from accounts.login import AUTHENTICATED_AT_KEY
from packages.models import File, JournalEntry, Project, ProjectEvent, Release, Role
from tests.factories import (
    make_project,
    make_release,
    make_token,
    make_user,
    post_upload,
    sdist_upload,
    wheel_upload,
)

pytestmark = pytest.mark.django_db

RELEASE_URL = "/manage/project/demo/release/1.0/"
GET_PAGES = [
    "/manage/project/demo/releases/",
    RELEASE_URL,
    "/manage/project/demo/history/",
    "/manage/project/demo/settings/",
]
ACTIONS = [
    (RELEASE_URL + "yank/", {"reason": "nope", "confirm": "1.0"}),
    (RELEASE_URL + "unyank/", {}),
    (RELEASE_URL + "delete/", {"confirm": "1.0"}),
    ("/manage/project/demo/settings/", {"confirm": "demo"}),
]


@pytest.fixture
def owner(client, django_capture_on_commit_callbacks):
    """alice owns demo, with 1.0 (a wheel and an sdist) and 2.0 uploaded for real."""
    user = make_user("alice")
    token = make_token(user)
    with django_capture_on_commit_callbacks(execute=True):
        for upload in (
            wheel_upload("demo", "1.0"),
            sdist_upload("demo", "1.0"),
            wheel_upload("demo", "2.0"),
        ):
            assert post_upload(client, upload, token).status_code == 200
    return user


def log_in(client, user, *, fresh: bool = True):
    client.force_login(user)
    session = client.session
    session[AUTHENTICATED_AT_KEY] = time.time() if fresh else 0
    session.save()
    return client


def stored(key: str) -> bool:
    return storages["default"].exists(key)


def test_anonymous_visitors_are_sent_to_log_in(client):
    make_release(make_project("demo"), "1.0")
    for url in ["/manage/projects/", *GET_PAGES]:
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/account/login/?next=")
    for url, data in ACTIONS:
        assert client.post(url, data).status_code == 302
    assert Project.objects.exists() and not Release.objects.get().yanked


@pytest.mark.parametrize("role", ["Maintainer", None])
def test_non_owners_are_denied_every_page_and_action(client, owner, role):
    other = make_user("mallory")
    if role:
        Role.objects.create(user=other, project=Project.objects.get(), role_name=role)
    log_in(client, other)
    for url in GET_PAGES:
        assert client.get(url).status_code == 403, url
    for url, data in ACTIONS:
        assert client.post(url, data).status_code == 403, url
    file = File.objects.first()
    assert (
        client.post(f"{RELEASE_URL}file/{file.pk}/delete/", {"confirm": file.filename}).status_code
        == 403
    )
    assert Release.objects.count() == 2 and File.objects.count() == 3
    assert not Release.objects.filter(yanked=True).exists()
    mine = {"project:release:yank", "project:release:unyank", "project:release:remove"}
    assert not ProjectEvent.objects.filter(tag__in=mine | {"project:remove"}).exists()


def test_projects_page_lists_roles_and_links_management_for_owners(client, owner):
    other = make_project("theirs", owner=make_user("bob"))
    make_release(other, "0.1")
    Role.objects.create(user=owner, project=other, role_name="Maintainer")
    page = log_in(client, owner).get("/manage/projects/").content.decode()
    assert "demo" in page and "theirs" in page
    assert "Owner" in page and "Maintainer" in page
    assert 'href="/manage/project/demo/releases/"' in page
    assert 'href="/manage/project/theirs/releases/"' not in page


def test_releases_page_links_each_release_and_the_teammates_pages(client, owner):
    page = log_in(client, owner).get("/manage/project/demo/releases/").content.decode()
    assert 'href="/manage/project/demo/release/1.0/"' in page
    assert 'href="/manage/project/demo/release/2.0/"' in page
    assert 'href="/manage/project/demo/collaboration/"' in page
    assert 'href="/manage/account/token/"' in page


def test_yank_with_reason_shows_everywhere_and_is_recorded(client, owner):
    log_in(client, owner)
    response = client.post(
        RELEASE_URL + "yank/", {"reason": "Broken build", "confirm": "1.0"}, REMOTE_ADDR="10.1.2.3"
    )
    assert response.status_code == 302 and response["Location"] == RELEASE_URL
    assert "Yanked release 1.0." in client.get(RELEASE_URL).content.decode()
    release = Release.objects.get(version="1.0")
    assert release.yanked and release.yanked_reason == "Broken build"
    assert JournalEntry.objects.latest("id").action == "yank release"
    event = ProjectEvent.objects.get(tag="project:release:yank")
    assert event.user == owner and event.ip_address == "10.1.2.3"
    assert event.additional["reason"] == "Broken build" and event.additional["version"] == "1.0"
    assert 'data-yanked="Broken build"' in client.get("/simple/demo/").content.decode()
    page = client.get("/project/demo/1.0/").content.decode()
    assert "This release has been yanked" in page and "Broken build" in page

    client.post(RELEASE_URL + "unyank/")
    release.refresh_from_db()
    assert not release.yanked and release.yanked_reason == ""
    assert ProjectEvent.objects.filter(tag="project:release:unyank").count() == 1
    assert "data-yanked" not in client.get("/simple/demo/").content.decode()


@pytest.mark.parametrize("typed", ["", "1.1", "1"])
def test_yank_needs_the_version_typed(client, owner, typed):
    log_in(client, owner)
    response = client.post(RELEASE_URL + "yank/", {"reason": "x", "confirm": typed})
    assert response.status_code == 400
    assert not Release.objects.get(version="1.0").yanked
    assert not ProjectEvent.objects.filter(tag="project:release:yank").exists()
    page = response.content.decode()
    message = "This field is required." if not typed else "That is not “1.0”; nothing was yanked."
    assert message in page
    assert "Type “1.0” to confirm" in page


def test_destructive_pages_ask_for_the_password_again(client, owner):
    log_in(client, owner, fresh=False)
    response = client.post(RELEASE_URL + "yank/", {"reason": "x"})
    assert (
        response["Location"]
        == "/account/reauthenticate/?next=%2Fmanage%2Fproject%2Fdemo%2Frelease%2F1.0%2F"
    )
    assert not Release.objects.get(version="1.0").yanked
    assert client.get(RELEASE_URL)["Location"].startswith("/account/reauthenticate/")


def test_delete_file_needs_its_name_and_keeps_the_bytes_for_the_history(
    client, owner, django_capture_on_commit_callbacks
):
    log_in(client, owner)
    wheel = File.objects.get(filename__endswith=".whl", release__version="1.0")
    url = f"{RELEASE_URL}file/{wheel.pk}/delete/"
    response = client.post(url, {"confirm": "wrong.whl"})
    assert response.status_code == 400
    assert "nothing was deleted" in response.content.decode()
    assert File.objects.filter(pk=wheel.pk).exists()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"confirm": wheel.filename})
    assert response.status_code == 302
    assert not File.objects.filter(pk=wheel.pk).exists()
    # Off the live index, kept (row and bytes) for the point-in-time view until purged.
    assert File.all_objects.get(pk=wheel.pk).deleted_at is not None
    assert stored(wheel.path)
    assert client.get(f"/packages/{wheel.path}").status_code == 404
    event = ProjectEvent.objects.get(tag="project:release:file:remove")
    assert event.additional["filename"] == wheel.filename
    assert JournalEntry.objects.latest("id").action == f"remove file {wheel.filename}"


def test_delete_release_needs_its_version(client, owner, django_capture_on_commit_callbacks):
    log_in(client, owner)
    paths = list(File.objects.filter(release__version="1.0").values_list("path", flat=True))
    assert client.post(RELEASE_URL + "delete/", {"confirm": "2.0"}).status_code == 400
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(RELEASE_URL + "delete/", {"confirm": "1.0"})
    assert response["Location"] == "/manage/project/demo/releases/"
    assert list(Release.objects.values_list("version", flat=True)) == ["2.0"]
    assert not File.objects.filter(path__in=paths).exists()
    assert all(stored(p) for p in paths)
    assert ProjectEvent.objects.get(tag="project:release:remove").additional["version"] == "1.0"


def test_delete_project_needs_its_name_and_keeps_the_history(
    client, owner, django_capture_on_commit_callbacks
):
    log_in(client, owner)
    paths = list(File.objects.values_list("path", flat=True))
    response = client.post("/manage/project/demo/settings/", {"confirm": "Demo"})
    assert response.status_code == 400 and Project.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/manage/project/demo/settings/", {"confirm": "demo"})
    assert response["Location"] == "/manage/projects/"
    assert not Project.objects.exists() and not File.objects.exists()
    assert all(stored(p) for p in paths)  # Until purged (tests/packages/test_history.py).
    event = ProjectEvent.objects.get(tag="project:remove")
    assert event.project_name == "demo"
    assert not Role.objects.exists()
    assert JournalEntry.objects.latest("id").action == "remove project"
    assert client.get("/project/demo/").status_code == 404


def test_history_lists_events_newest_first(client, owner):
    log_in(client, owner)
    client.post(RELEASE_URL + "yank/", {"reason": "first", "confirm": "1.0"})
    client.post(RELEASE_URL + "unyank/")
    page = client.get("/manage/project/demo/history/").content.decode()
    assert page.index("project:release:unyank") < page.index("project:release:yank")
    assert "first" in page and "alice" in page


def test_actions_only_accept_post(client, owner):
    log_in(client, owner)
    assert client.get(RELEASE_URL + "yank/").status_code == 405
    assert client.get(RELEASE_URL + "delete/").status_code == 405


def test_unknown_project_or_release_is_404(client, owner):
    log_in(client, owner)
    assert client.get("/manage/project/nothing/releases/").status_code == 404
    assert client.get("/manage/project/demo/release/9.9/").status_code == 404


def test_releases_page_costs_a_fixed_number_of_queries(
    client, owner, django_assert_max_num_queries
):
    project = Project.objects.get()
    for i in range(100):
        make_release(project, f"3.{i}", sort_order=10 + i)
    log_in(client, owner)
    client.get("/manage/project/demo/releases/")
    with django_assert_max_num_queries(10):
        assert client.get("/manage/project/demo/releases/").status_code == 200
