from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, ManagementUtility, call_command
from django.db import transaction

from accounts import moderation as user_moderation
from accounts.management.base import os_user
from accounts.models import ApiToken, UserEvent
from accounts.tokens import find_api_token
from packages.journal import record_change
from packages.models import JournalEntry, Project, ProjectEvent, Release, Role, RoleName
from tests.factories import make_project, make_release, make_user

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_create_api_token_prints_working_token_on_last_line():
    user = make_user("alice")
    token = run("create_api_token", "alice", "--description", "ci").strip().splitlines()[-1]
    found = find_api_token(token)
    assert found is not None and found.user == user
    assert found.description == "ci"
    assert not found.projects.exists()
    # Only a hash is stored.
    assert token.split(".", 1)[1] not in found.secret_hash


def test_create_api_token_scoped_to_project():
    user = make_user("alice")
    project = make_project("demo", owner=user)
    token = run("create_api_token", "alice", "--project", "Demo").strip().splitlines()[-1]
    assert list(find_api_token(token).projects.all()) == [project]


def test_create_api_token_errors():
    make_user("alice")
    with pytest.raises(CommandError, match="No project named 'nope'"):
        run("create_api_token", "alice", "--project", "nope")
    with pytest.raises(CommandError, match="No user named 'bob'"):
        run("create_api_token", "bob")
    assert not ApiToken.objects.exists()


def test_create_api_token_refuses_a_project_the_user_has_no_role_on():
    make_user("alice")
    make_project("theirs", owner=make_user("bob"))
    refused = "^The user 'alice' may not upload to project 'theirs'.$"
    with pytest.raises(CommandError, match=refused):
        run("create_api_token", "alice", "--project", "theirs")
    assert not ApiToken.objects.exists()


def test_create_api_token_takes_a_maintainer_role():
    alice = make_user("alice")
    project = make_project("shared", owner=make_user("bob"))
    Role.objects.create(user=alice, project=project, role_name=RoleName.MAINTAINER)
    token = run("create_api_token", "alice", "--project", "shared").strip().splitlines()[-1]
    assert list(find_api_token(token).projects.all()) == [project]


@pytest.mark.parametrize("scope", [[], ["--project", "demo"]])
def test_create_api_token_refuses_a_frozen_user(scope):
    alice = make_user("alice")
    make_project("demo", owner=alice)
    user_moderation.freeze_user(user=alice, reason="abuse")
    with pytest.raises(CommandError, match="^The user 'alice' is frozen; unfreeze them first.$"):
        run("create_api_token", "alice", *scope)
    assert not ApiToken.objects.exists()


def test_create_api_token_failure_exits_non_zero(capsys):
    make_user("alice")
    with pytest.raises(SystemExit) as exited:
        ManagementUtility(["manage.py", "create_api_token", "alice", "--project", "nope"]).execute()
    assert exited.value.code == 1
    assert "CommandError: No project named 'nope'" in capsys.readouterr().err


def test_yank_and_unyank_release():
    release = make_release(make_project("demo"), "1.0")
    serial = JournalEntry.objects.count()
    assert "Would yank" in run("yank_release", "demo", "1.0", "broken", "--dry-run")
    assert not Release.objects.get(pk=release.pk).yanked
    run("yank_release", "Demo", "1.0.0", "broken")
    release.refresh_from_db()
    assert (release.yanked, release.yanked_reason) == (True, "broken")
    run("unyank_release", "demo", "1.0")
    release.refresh_from_db()
    assert (release.yanked, release.yanked_reason) == (False, "")
    actions = list(JournalEntry.objects.values_list("action", flat=True)[serial:])
    assert actions == ["yank release", "unyank release"]


def test_yank_release_names_what_is_missing():
    make_release(make_project("demo"), "1.0")
    with pytest.raises(CommandError, match="^Project 'demo' has no release '2.0'$"):
        run("yank_release", "Demo", "2.0", "x")
    with pytest.raises(CommandError, match="^No project named 'nope'$"):
        run("yank_release", "nope", "1.0", "x")
    with pytest.raises(CommandError, match="^No project named 'nope'$"):
        run("unyank_release", "nope", "1.0")
    assert not JournalEntry.objects.exists()


def test_unyank_of_a_release_not_yanked_does_nothing_and_says_so():
    release = make_release(make_project("demo"), "1.0")
    assert run("unyank_release", "demo", "1.0").strip() == "Nothing to do: demo 1.0 is not yanked."
    assert not JournalEntry.objects.exists()
    assert not ProjectEvent.objects.exists()
    Release.objects.filter(pk=release.pk).update(yanked=True, yanked_reason="broken")
    assert run("unyank_release", "demo", "1.0", "--dry-run").strip() == "Would unyank demo 1.0"
    assert Release.objects.get(pk=release.pk).yanked
    assert not JournalEntry.objects.exists()
    assert run("unyank_release", "demo", "1.0").strip() == "Unyanked demo 1.0"
    assert not Release.objects.get(pk=release.pk).yanked


def test_commands_record_who_ran_them_in_the_journal_and_events():
    make_release(make_project("demo"), "1.0")
    run("yank_release", "demo", "1.0", "broken", "--actor", "ops-alice")
    run("unyank_release", "demo", "1.0")  # By default, the operating system user.
    run("quarantine_project", "demo", "--reason", "report 7", "--actor", "mod-bob")
    journal = list(
        JournalEntry.objects.order_by("pk").values_list(
            "action", "submitted_by", "submitted_by_name"
        )
    )
    assert journal == [
        ("yank release", None, "ops-alice"),
        ("unyank release", None, os_user()),
        ("project quarantined", None, "mod-bob"),
    ]
    events = ProjectEvent.objects.order_by("pk").values_list("tag", "additional__submitted_by")
    assert list(events) == [
        ("project:release:yank", "ops-alice"),
        ("project:release:unyank", os_user()),
        ("project:quarantine:enter", "mod-bob"),
    ]
    out = io.StringIO()
    call_command("journal", stdout=out, stderr=(err := io.StringIO()))
    assert [line.split("\t")[-1] for line in out.getvalue().splitlines()] == [
        "ops-alice",
        os_user(),
        "mod-bob",
    ]
    assert err.getvalue().strip().startswith("3 changes, last serial")
    # Outside a command, the journal names the site user again.
    staff = make_user("staff")
    with transaction.atomic():
        record_change(project=Project.objects.get(), action="test", user=staff)
    assert JournalEntry.objects.latest("pk").submitted_by_name == "staff"


def test_freeze_user_command_records_its_actor_in_the_users_history():
    user = make_user("alice")
    run("freeze_user", "alice", "--reason", "abuse", "--actor", "mod-bob")
    event = UserEvent.objects.filter(user=user).latest("pk")
    assert (event.tag, event.additional["submitted_by"]) == ("account:frozen", "mod-bob")


def test_actor_must_be_a_name():
    make_release(make_project("demo"), "1.0")
    with pytest.raises(CommandError, match="--actor"):
        run("yank_release", "demo", "1.0", "broken", "--actor", " ")
    assert not JournalEntry.objects.exists()


def test_journal_says_one_change_in_the_singular():
    make_project("demo")
    with transaction.atomic():
        record_change(project=Project.objects.get(), action="create")
    err = io.StringIO()
    call_command("journal", stdout=io.StringIO(), stderr=err)
    assert err.getvalue().startswith("1 change, last serial")
