"""Moderation as the upload endpoint sees it: site flags, prohibited and confusable names,
quarantine; and the domain functions' records."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import UserEvent
from accounts.registration import registration_disabled
from packages import flags, moderation
from packages.models import JournalEntry, Project, ProjectEvent
from tests.factories import (
    make_project,
    make_release,
    make_token,
    make_user,
    post_upload,
    wheel_upload,
)

pytestmark = pytest.mark.django_db

HELP = "http://testserver/help/"


@pytest.fixture
def token():
    return make_token(make_user("alice"))


def assert_refused(response, status: int, message: str) -> None:
    assert response.status_code == status, response.content
    assert response.reason_phrase == message
    assert message in response.content.decode()


def test_read_only_refuses_uploads_before_authentication(client, token):
    flags.set_flag(flag="read-only", enabled=True)
    message = "Read-only mode: Uploads are temporarily disabled."
    assert_refused(post_upload(client, wheel_upload(), token), 403, message)
    assert_refused(client.post("/legacy/", wheel_upload().data()), 403, message)  # No auth.
    flags.set_flag(flag="read-only", enabled=False)
    assert post_upload(client, wheel_upload(), token).status_code == 200


def test_disallow_new_upload(client, token):
    flags.set_flag(flag="disallow-new-upload", enabled=True)
    assert_refused(
        post_upload(client, wheel_upload(), token),
        403,
        f"New uploads are temporarily disabled. See {HELP}#admin-intervention for more "
        "information.",
    )


def test_disallow_new_project_registration_still_takes_new_files(client, token):
    assert post_upload(client, wheel_upload("old", "1.0"), token).status_code == 200
    flags.set_flag(flag="disallow-new-project-registration", enabled=True)
    assert_refused(
        post_upload(client, wheel_upload("new", "1.0"), token),
        403,
        f"New project registration temporarily disabled. See {HELP}#admin-intervention for "
        "more details.",
    )
    assert post_upload(client, wheel_upload("old", "2.0"), token).status_code == 200
    assert not Project.objects.filter(name="new").exists()


def test_uploads_read_flags_fresh_and_pages_read_them_cached():
    flags.clear_cache()
    with CaptureQueriesContext(connection) as queries:
        for _ in range(3):
            assert flags.upload_denial() is None
    assert len(queries) == 3  # One small query per upload: every app server agrees at once.
    with CaptureQueriesContext(connection) as queries:
        for _ in range(3):
            assert flags.banners() == []
    # The first page fills the cache; uploads leave it alone (a write per upload cost more
    # than their query).
    assert len(queries) == 1


def test_banners_of_enabled_flags(client):
    flags.set_flag(flag="disallow-new-user-registration", enabled=True)
    flags.set_flag(flag="read-only", enabled=True, banner="Back at 14:00 UTC")
    assert flags.banners() == [
        "Back at 14:00 UTC",
        "New user registration is temporarily disabled.",
    ]
    assert registration_disabled()
    assert "Back at 14:00 UTC" in client.get("/").content.decode()


@pytest.mark.parametrize(
    ("existing", "new"),
    [("foo-bar", "FooBar"), ("django", "DJANG0"), ("pillow", "pi11ow"), ("click", "c1ick")],
)
def test_confusable_with_an_existing_project_is_refused(client, token, existing, new):
    make_project(existing)
    assert_refused(
        post_upload(client, wheel_upload(new, "1.0"), token),
        400,
        f"The name {new!r} is too similar to an existing project. "
        f"See {HELP}#project-name for more information.",
    )
    assert Project.objects.count() == 1


def test_same_normalized_name_is_the_same_project_not_a_lookalike(client, token):
    assert post_upload(client, wheel_upload("Foo.Bar", "1.0"), token).status_code == 200
    assert post_upload(client, wheel_upload("foo_bar", "2.0"), token).status_code == 200
    assert Project.objects.count() == 1


def test_prohibited_name_and_its_lookalikes(client, token):
    moderation.prohibit_name(name="evil", comment="malware")
    assert_refused(
        post_upload(client, wheel_upload("EVIL", "1.0"), token),
        400,
        f"The name 'EVIL' isn't allowed. See {HELP}#project-name for more information.",
    )
    assert_refused(
        post_upload(client, wheel_upload("ev1l", "1.0"), token),
        400,
        f"The name 'ev1l' is too similar to an existing project. See {HELP}#project-name for "
        "more information.",
    )
    assert moderation.allow_name(name="Evil", reason="cleared") is True
    assert post_upload(client, wheel_upload("evil", "1.0"), token).status_code == 200


def test_quarantine_and_clear_are_journaled_with_reasons_and_idempotent(client):
    staff = make_user("mod", is_staff=True)
    project = make_project("demo")
    assert moderation.quarantine_project(project=project, reason="report 7", by=staff)
    assert not moderation.quarantine_project(project=project, reason="again", by=staff)
    assert moderation.clear_quarantine(project=project, reason="fine", by=staff)
    assert not moderation.clear_quarantine(project=project, reason="again", by=staff)
    journal = list(JournalEntry.objects.values_list("action", "submitted_by"))
    assert journal == [
        ("project quarantined", staff.pk),
        ("project quarantine cleared", staff.pk),
    ]
    events = list(ProjectEvent.objects.values_list("tag", "additional"))
    assert events == [
        (
            "project:quarantine:enter",
            {
                "submitted_by": "mod",
                "notice": moderation.DEFAULT_QUARANTINE_NOTICE,
                "staff_reason": "report 7",
            },
        ),
        ("project:quarantine:exit", {"submitted_by": "mod", "staff_reason": "fine"}),
    ]


SECRET_REASON = "report 7 from scanner X: payload in setup.py"


def quarantined_with_owner(*, notice: str = "") -> Project:
    owner = make_user("owner")
    project = make_project("demo", owner=owner)
    make_release(project, "1.0")
    moderation.quarantine_project(project=project, reason=SECRET_REASON, notice=notice)
    return project


def test_quarantine_keeps_the_notice_and_the_staff_reason_apart():
    project = quarantined_with_owner(notice="Under review after a report.")
    project.refresh_from_db()
    assert project.quarantine_notice == "Under review after a report."
    assert project.quarantine_reason == SECRET_REASON
    moderation.clear_quarantine(project=project, reason="false positive")
    project.refresh_from_db()
    assert (project.quarantine_notice, project.quarantine_reason) == ("", SECRET_REASON)


def test_project_page_shows_the_notice_never_the_staff_reason(client):
    quarantined_with_owner()
    page = client.get("/project/demo/").content.decode()
    assert moderation.DEFAULT_QUARANTINE_NOTICE in page
    assert SECRET_REASON not in page


def test_owner_sees_the_quarantine_notice_not_the_reason_on_their_pages(client):
    project = quarantined_with_owner(notice="Paused while we look at a report.")
    client.force_login(project.roles.get().user)
    for url in ("/manage/project/demo/releases/", "/manage/project/demo/history/"):
        response = client.get(url)
        assert response.status_code == 200, url
        page = response.content.decode()
        assert "This project is quarantined" in page
        assert "Paused while we look at a report." in page
        assert SECRET_REASON not in page, url
    moderation.clear_quarantine(project=project, reason="cleared after " + SECRET_REASON)
    page = client.get("/manage/project/demo/history/").content.decode()
    assert "This project is quarantined" not in page
    assert "project:quarantine:exit" in page and SECRET_REASON not in page


def test_quarantine_freezes_users_with_the_notice_as_their_reason():
    project = quarantined_with_owner()
    other = make_project("other", owner=make_user("second"))
    moderation.clear_quarantine(project=project, reason="x")
    moderation.quarantine_project(
        project=other, reason=SECRET_REASON, notice="Held for review.", freeze_users=True
    )
    event = UserEvent.objects.get(tag="account:frozen")
    assert event.additional["reason"] == "Quarantine of other: Held for review."


def test_limits_are_bounded():
    project = make_project("demo")
    for upload_limit, total in ((50 * 1024**2, None), (2 * 1024**3, None), (None, 1024**3)):
        with pytest.raises(moderation.ModerationError):
            moderation.set_project_limits(
                project=project, upload_limit=upload_limit, total_size_limit=total, reason="x"
            )
    moderation.set_project_limits(
        project=project, upload_limit=1024**3, total_size_limit=100 * 1024**3, reason="big"
    )
    project.refresh_from_db()
    assert project.effective_upload_limit == 1024**3


def test_name_check_does_not_confuse_a_project_with_itself():
    """Two uploads racing to create one project: the loser's name check runs after the winner
    committed, and must lead on to the permission check, not to "too similar"."""
    make_project("e2e-race")
    assert moderation.new_project_name_denial("e2e_race") is None
    denial = moderation.new_project_name_denial("e2erace")
    assert denial is not None and "too similar to an existing project" in denial.message
