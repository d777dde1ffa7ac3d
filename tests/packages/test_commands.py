from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from accounts.tokens import find_api_token
from packages.models import JournalEntry, Release
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
    with pytest.raises(CommandError, match="No release 2.0"):
        run("yank_release", "demo", "2.0", "x")
