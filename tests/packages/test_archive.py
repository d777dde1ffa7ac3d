"""Owners archive and unarchive projects (PEP 792 `archived`): uploads refused, the status in
both simple formats, the project page and the JSON API, every change journalled and an event."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command

from packages import lifecycle, moderation
from packages.models import File, JournalEntry, Project, ProjectEvent
from tests.factories import make_token, make_user, post_upload, wheel_upload
from tests.packages.test_manage import log_in

pytestmark = pytest.mark.django_db

JSON = "application/vnd.pypi.simple.v1+json"


@pytest.fixture
def owner(client, django_capture_on_commit_callbacks):
    user = make_user("alice")
    with django_capture_on_commit_callbacks(execute=True):
        assert post_upload(client, wheel_upload("demo", "1.0"), make_token(user)).status_code == 200
    return user


def _archive(client, owner, note: str = "Moved to demo2") -> None:
    log_in(client, owner)
    response = client.post("/manage/project/demo/archive/", {"note": note})
    assert response.status_code == 302
    assert response["Location"] == "/manage/project/demo/settings/"


def test_owner_archives_and_the_status_shows_everywhere(client, owner):
    _archive(client, owner, note='Moved to <demo2> & "co"')

    project = Project.objects.get(name="demo")
    assert project.is_archived and project.simple_status == "archived"
    detail = client.get("/simple/demo/", HTTP_ACCEPT=JSON).json()
    assert detail["project-status"] == {"status": "archived", "reason": 'Moved to <demo2> & "co"'}
    assert [f["filename"] for f in detail["files"]] == ["demo-1.0-py3-none-any.whl"]
    html = client.get("/simple/demo/").content.decode()
    assert '<meta name="pypi:project-status" content="archived">' in html
    assert (
        '<meta name="pypi:project-status-reason" '
        'content="Moved to &lt;demo2&gt; &amp; &quot;co&quot;">' in html
    )
    page = client.get("/project/demo/").content.decode()
    assert "This project is archived" in page and "Moved to &lt;demo2&gt;" in page
    api = json.loads(client.get("/pypi/demo/json").content)
    assert api["project-status"] == {"status": "archived", "reason": 'Moved to <demo2> & "co"'}
    # Still installable.
    assert (
        client.get(detail["files"][0]["url"].removeprefix("http://testserver")).status_code == 200
    )


def test_archived_project_refuses_uploads_with_pypis_message(client, owner, settings):
    _archive(client, owner)
    response = post_upload(client, wheel_upload("demo", "2.0"), make_token(owner))
    message = (
        "The user 'alice' isn't allowed to upload to project 'demo'. "
        f"See {settings.HELP_URL}#project-name for more information."
    )
    assert response.status_code == 403
    assert response.reason_phrase == message
    assert message in response.content.decode()
    assert not File.objects.filter(release__version="2.0").exists()


def test_unarchive_accepts_uploads_again_and_each_change_is_journalled(client, owner):
    serial = Project.objects.get(name="demo").last_serial
    _archive(client, owner)
    assert client.post("/manage/project/demo/unarchive/").status_code == 302

    project = Project.objects.get(name="demo")
    assert project.simple_status == "active" and project.lifecycle_status_note == ""
    assert client.get("/simple/demo/", HTTP_ACCEPT=JSON).json()["project-status"] == {
        "status": "active"
    }
    actions = list(
        JournalEntry.objects.filter(id__gt=serial)
        .order_by("id")
        .values_list("action", "submitted_by_name")
    )
    assert actions == [("project archived", "alice"), ("project unarchived", "alice")]
    assert project.last_serial == JournalEntry.objects.last_serial()
    events = list(ProjectEvent.objects.filter(tag__startswith="project:archive").order_by("id"))
    assert [e.tag for e in events] == ["project:archive:enter", "project:archive:exit"]
    assert events[0].additional["note"] == "Moved to demo2"
    assert events[0].user == owner
    history = client.get("/manage/project/demo/history/").content.decode()
    assert "project:archive:enter" in history
    assert post_upload(client, wheel_upload("demo", "2.0"), make_token(owner)).status_code == 200


def test_archive_needs_a_fresh_password_and_an_owner(client, owner):
    log_in(client, owner, fresh=False)
    response = client.post("/manage/project/demo/archive/", {"note": ""})
    assert response["Location"].startswith("/account/reauthenticate/")
    assert not Project.objects.get(name="demo").is_archived

    maintainer = make_user("bob")
    Project.objects.get(name="demo").roles.create(user=maintainer, role_name="Maintainer")
    log_in(client, maintainer)
    assert client.post("/manage/project/demo/archive/", {"note": ""}).status_code == 403
    assert client.post("/manage/project/nope/archive/", {"note": ""}).status_code == 404
    client.logout()
    assert client.post("/manage/project/demo/archive/")["Location"].startswith("/account/login/")
    assert not Project.objects.get(name="demo").is_archived
    assert not ProjectEvent.objects.filter(tag__startswith="project:archive").exists()


def test_archive_refuses_a_long_note_and_a_quarantined_project(client, owner):
    log_in(client, owner)
    response = client.post("/manage/project/demo/archive/", {"note": "x" * 401})
    assert response.status_code == 400
    assert not Project.objects.get(name="demo").is_archived

    moderation.quarantine_project(project=Project.objects.get(name="demo"), reason="review")
    response = client.post("/manage/project/demo/archive/", {"note": ""}, follow=True)
    assert "Cannot archive project &#x27;demo&#x27; while it is quarantined." in (
        response.content.decode()
    )
    assert Project.objects.get(name="demo").is_quarantined
    # Unarchiving what is not archived changes nothing either.
    before = JournalEntry.objects.last_serial()
    client.post("/manage/project/demo/unarchive/")
    assert JournalEntry.objects.last_serial() == before


def test_settings_page_offers_archive_or_unarchive(client, owner):
    log_in(client, owner)
    page = client.get("/manage/project/demo/settings/").content.decode()
    assert 'action="/manage/project/demo/archive/"' in page
    _archive(client, owner)
    page = client.get("/manage/project/demo/settings/").content.decode()
    assert 'action="/manage/project/demo/unarchive/"' in page
    assert 'action="/manage/project/demo/archive/"' not in page
    assert "<strong>archived</strong>" in client.get("/manage/projects/").content.decode()


def test_archive_command_dry_run_archive_and_unarchive(owner):
    out = io.StringIO()
    call_command("archive_project", "DEMO", "--note", "done", "--dry-run", stdout=out)
    assert "Would archive demo." in out.getvalue()
    assert not Project.objects.get(name="demo").is_archived

    call_command("archive_project", "demo", "--note", "done", "--actor", "ops", stdout=out)
    project = Project.objects.get(name="demo")
    assert project.is_archived and project.lifecycle_status_note == "done"
    assert JournalEntry.objects.order_by("-id").first().submitted_by_name == "ops"
    with pytest.raises(CommandError, match="already archived"):
        call_command("archive_project", "demo", stdout=out)

    call_command("archive_project", "demo", "--unarchive", stdout=out)
    assert Project.objects.get(name="demo").simple_status == "active"
    with pytest.raises(CommandError, match="No project named"):
        call_command("archive_project", "nope", stdout=out)


def test_archived_while_an_upload_was_checked_is_refused_under_the_lock(client, owner, monkeypatch):
    """The unlocked checks passed; the project was archived before the row lock was taken."""
    from uploads import service

    real_store = service._store_objects

    def archive_then_store(**kwargs):
        lifecycle.archive_project(project=Project.objects.get(name="demo"), by=None)
        return real_store(**kwargs)

    monkeypatch.setattr(service, "_store_objects", archive_then_store)
    response = post_upload(client, wheel_upload("demo", "3.0"), make_token(owner))
    assert response.status_code == 403
    assert not File.objects.filter(release__version="3.0").exists()
