"""Admin through the test client, logged in as each staff role: lists stay cheap at scale,
actions ask for a reason, run the domain functions and are refused to the wrong role."""

from __future__ import annotations

import hashlib

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.core import mail
from django.core.files.storage import storages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts import moderation as user_moderation
from accounts.models import Account, ApiToken
from accounts.tokens import create_api_token, find_api_token
from packages import moderation, staff
from packages.models import (
    AdminFlag,
    File,
    FilenameRegistry,
    JournalEntry,
    LifecycleStatus,
    ProhibitedProjectName,
    Project,
    ProjectEvent,
    Release,
    Role,
)
from packages.names import normalize_name, ultranormalize_name
from tests.factories import (
    make_files,
    make_project,
    make_release,
    make_token,
    make_user,
    post_upload,
    wheel_upload,
)

pytestmark = pytest.mark.django_db


def make_staff(username: str, group: str):
    user = make_user(username, is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture
def moderator():
    return make_staff("mod", staff.MODERATORS)


@pytest.fixture
def administrator():
    return make_staff("boss", staff.ADMINISTRATORS)


def changelist(model) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def run_action(client, model, action: str, objects, **form):
    """Post an action the way the changelist does; with a form, post it again with `apply`."""
    data = {
        "action": action,
        "_selected_action": [str(o.pk) for o in objects],
        "index": "0",
        "select_across": "0",
    }
    first = client.post(changelist(model), data)
    if not form or first.status_code != 200 or "form" not in first.context:
        return first  # Refused: the action is not offered to this user.
    assert "reason" in first.context["form"].fields
    return client.post(changelist(model), {**data, **form, "apply": "1"})


def offered_actions(client, model) -> set[str]:
    action_form = client.get(changelist(model)).context["action_form"]
    if action_form is None:
        return set()
    return {name for name, _label in action_form.fields["action"].choices if name}


# --- Roles ----------------------------------------------------------------------------------


def test_migrate_creates_staff_groups_idempotently():
    before = staff.setup_staff_groups()
    assert staff.setup_staff_groups() == before
    moderators = Group.objects.get(name=staff.MODERATORS)
    codenames = set(moderators.permissions.values_list("codename", flat=True))
    assert {"change_project", "add_prohibitedprojectname", "change_account"} <= codenames
    assert "delete_project" not in codenames and "change_adminflag" not in codenames
    administrators = Group.objects.get(name=staff.ADMINISTRATORS)
    assert administrators.permissions.filter(codename="delete_file").exists()
    assert set(AdminFlag.objects.values_list("id", flat=True)) == set(AdminFlag.Flag.values)


def test_every_model_has_an_admin_page_for_both_roles(client, moderator, administrator):
    owner = make_user("owner")
    project = make_project("demo", owner=owner)
    make_files(make_release(project, "1.0"), 1)
    create_api_token(user=owner, projects=[project])
    moderation.prohibit_name(name="bad", comment="x")
    moderation.quarantine_project(project=project, reason="x")
    moderation.clear_quarantine(project=project, reason="x")
    user_moderation.freeze_user(user=owner, reason="x")
    models = [m for m in admin.site._registry if m._meta.app_label in {"packages", "accounts"}]
    assert {Project, Release, File, FilenameRegistry, JournalEntry, AdminFlag} <= set(models)
    for user in (moderator, administrator):
        client.force_login(user)
        for model in models:
            response = client.get(changelist(model))
            assert response.status_code == 200, (user, model)
        assert client.get(changelist(Project) + "?q=DEMO").context["cl"].result_count == 1
        for model in models:
            obj = model._default_manager.first()
            if obj is not None:
                url = reverse(
                    f"admin:{model._meta.app_label}_{model._meta.model_name}_change",
                    args=[obj.pk],
                )
                assert client.get(url).status_code == 200, (user, model)
        project = Project.objects.get()
        page = client.get(reverse("admin:packages_project_change", args=[project.pk]))
        assert "demo" in page.content.decode()
        for link in ("Releases", "Files", "Events", "Journal"):
            assert f">{link}</a>" in page.content.decode()
        files = client.get(changelist(File) + f"?release__project__exact={project.pk}")
        assert files.context["cl"].result_count == 1


def test_changelists_stay_within_fixed_query_count_with_500_rows(client, administrator):
    owner = make_user("owner")
    projects = Project.objects.bulk_create(
        Project(
            name=f"proj-{i}",
            normalized_name=f"proj-{i}",
            ultranormalized_name=ultranormalize_name(f"proj-{i}"),
        )
        for i in range(500)
    )
    Role.objects.bulk_create(Role(user=owner, project=p, role_name="Owner") for p in projects)
    releases = Release.objects.bulk_create(
        Release(project=p, version="1.0", canonical_version="1", uploader=owner) for p in projects
    )
    File.objects.bulk_create(
        File(
            release=r,
            filename=f"proj_{i}-1.0-py3-none-any.whl",
            path=f"aa/bb/{i:060d}/proj_{i}-1.0-py3-none-any.whl",
            size=10,
            md5_digest="0" * 32,
            sha256_digest=hashlib.sha256(str(i).encode()).hexdigest(),
            blake2_256_digest=hashlib.blake2b(str(i).encode(), digest_size=32).hexdigest(),
            packagetype="bdist_wheel",
            python_version="py3",
        )
        for i, r in enumerate(releases)
    )
    JournalEntry.objects.bulk_create(
        JournalEntry(name=p.name, action="create", submitted_by=owner) for p in projects
    )
    ProjectEvent.objects.bulk_create(
        ProjectEvent(project=p, project_name=p.name, tag="project:create", user=owner)
        for p in projects
    )
    users = [make_user(f"user{i}") for i in range(3)]
    for user in users:
        create_api_token(user=user)
        Account.objects.create(user=user)
    client.force_login(administrator)

    def queries(url: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url)
        assert response.status_code == 200, url
        return len(captured)

    for model in (Project, Release, File, JournalEntry, ProjectEvent, Role):
        url = changelist(model)
        queries(url)  # Warm caches (content types, flags).
        # Session, user, permissions, the (estimated or capped) count, the page, the flags.
        assert queries(url) <= 8, model
        assert queries(url + "?p=3") == queries(url), model
    from django.contrib.auth import get_user_model

    for model in (get_user_model(), Account, ApiToken):
        queries(changelist(model))
        assert queries(changelist(model)) <= 9, model


# --- Projects -------------------------------------------------------------------------------


def published(client, name: str = "demo"):
    user = make_user(f"owner-of-{name}")
    token = make_token(user)
    assert post_upload(client, wheel_upload(name, "1.0"), token).status_code == 200
    return Project.objects.get(normalized_name=normalize_name(name)), token


def test_moderator_quarantines_and_clears_a_project(client, moderator):
    project, token = published(client)
    client.force_login(moderator)
    response = run_action(client, Project, "quarantine", [project], reason="malware report 42")
    assert response.status_code == 302
    project.refresh_from_db()
    assert project.lifecycle_status == LifecycleStatus.QUARANTINE_ENTER
    entry = JournalEntry.objects.latest("id")
    assert (entry.action, entry.submitted_by) == ("project quarantined", moderator)
    event = ProjectEvent.objects.filter(project=project).latest("id")
    assert event.tag == "project:quarantine:enter"
    assert event.additional["staff_reason"] == "malware report 42"
    assert event.additional["notice"] == moderation.DEFAULT_QUARANTINE_NOTICE
    assert event.user == moderator
    events = client.get(changelist(ProjectEvent)).content.decode()
    assert "malware report 42" in events  # Staff read the reason in the events list.

    assert "demo" not in client.get("/simple/").getvalue().decode()
    assert client.get("/pypi/demo/json").status_code == 404
    detail = client.get("/simple/demo/", HTTP_ACCEPT="application/vnd.pypi.simple.v1+json")
    assert detail.json()["project-status"] == {"status": "quarantined"}
    assert detail.json()["files"] == []
    refused = post_upload(client, wheel_upload("demo", "2.0"), token)
    assert refused.status_code == 403
    assert "quarantined" in refused.reason_phrase

    run_action(client, Project, "clear_quarantine", [project], reason="false positive")
    project.refresh_from_db()
    assert project.lifecycle_status == LifecycleStatus.QUARANTINE_EXIT
    assert "demo" in client.get("/simple/").getvalue().decode()
    assert client.get("/pypi/demo/json").status_code == 200
    assert post_upload(client, wheel_upload("demo", "2.0"), token).status_code == 200


def test_action_without_reason_shows_the_form_again(client, moderator):
    project, _token = published(client)
    client.force_login(moderator)
    response = run_action(client, Project, "quarantine", [project], reason="")
    assert response.status_code == 200
    assert response.context["form"].errors["reason"]
    project.refresh_from_db()
    assert not project.is_quarantined


def test_quarantine_action_sets_the_public_notice_apart_from_the_reason(client, moderator):
    project, _token = published(client)
    client.force_login(moderator)
    run_action(
        client,
        Project,
        "quarantine",
        [project],
        reason="report 42: credential stealer in setup.py",
        notice="Paused while we review a report.",
    )
    project.refresh_from_db()
    assert project.quarantine_notice == "Paused while we review a report."
    assert project.quarantine_reason == "report 42: credential stealer in setup.py"
    change = client.get(reverse("admin:packages_project_change", args=[project.pk]))
    assert "report 42: credential stealer in setup.py" in change.content.decode()
    public = client.get("/project/demo/").content.decode()
    assert "Paused while we review a report." in public
    assert "credential stealer" not in public
    journal = client.get(changelist(JournalEntry)).content.decode()
    assert "credential stealer" not in journal and moderator.username in journal


def test_quarantine_can_freeze_the_projects_users(client, moderator):
    project, token = published(client)
    client.force_login(moderator)
    run_action(client, Project, "quarantine", [project], reason="malware", freeze_users="on")
    assert find_api_token(token) is None


def test_removing_a_project_is_for_administrators_only(
    client, moderator, administrator, django_capture_on_commit_callbacks
):
    project, _token = published(client)
    file = File.objects.get()
    client.force_login(moderator)
    assert "remove" not in offered_actions(client, Project)
    run_action(client, Project, "remove", [project], reason="spam", confirm="demo")
    assert Project.objects.exists()

    client.force_login(administrator)
    wrong = run_action(client, Project, "remove", [project], reason="spam", confirm="dem")
    assert wrong.status_code == 200 and wrong.context["form"].errors["confirm"]
    with django_capture_on_commit_callbacks(execute=True):
        done = run_action(client, Project, "remove", [project], reason="spam", confirm="demo")
    assert done.status_code == 302
    assert not Project.objects.exists()
    assert not storages["default"].exists(file.path)
    assert FilenameRegistry.objects.filter(filename=file.filename).exists()
    assert JournalEntry.objects.latest("id").action == "remove project"
    assert ProjectEvent.objects.filter(tag="project:remove", project_name="demo").exists()


def test_removing_releases_and_files(client, moderator, administrator):
    project, token = published(client)
    assert post_upload(client, wheel_upload("demo", "2.0"), token).status_code == 200
    client.force_login(moderator)
    assert "remove" not in offered_actions(client, File)
    assert "remove" not in offered_actions(client, Release)
    run_action(client, File, "remove", File.objects.all(), reason="x")
    assert File.objects.count() == 2

    client.force_login(administrator)
    run_action(client, File, "remove", File.objects.filter(release__version="2.0"), reason="bad")
    run_action(client, Release, "remove", Release.objects.filter(version="2.0"), reason="bad")
    assert list(Release.objects.values_list("version", flat=True)) == ["1.0"]
    project.refresh_from_db()
    assert project.total_size == File.objects.get().size
    tags = set(ProjectEvent.objects.values_list("tag", flat=True))
    assert {"project:release:file:remove", "project:release:remove"} <= tags


def test_moderator_sets_size_limits_within_bounds(client, moderator, settings):
    project, _token = published(client)
    client.force_login(moderator)
    too_big = run_action(
        client, Project, "set_limits", [project], reason="big", upload_limit_mib="2048"
    )
    assert too_big.status_code == 200 and too_big.context["form"].non_field_errors()
    run_action(
        client,
        Project,
        "set_limits",
        [project],
        reason="ML wheels",
        upload_limit_mib="500",
        total_size_limit_gib="20",
    )
    project.refresh_from_db()
    assert (project.upload_limit, project.total_size_limit) == (500 * 1024**2, 20 * 1024**3)
    run_action(client, Project, "set_limits", [project], reason="back to defaults")
    project.refresh_from_db()
    assert (project.upload_limit, project.total_size_limit) == (None, None)


# --- Names ----------------------------------------------------------------------------------


def test_moderator_prohibits_a_name_and_uploads_of_it_and_lookalikes_fail(client, moderator):
    client.force_login(moderator)
    response = client.post(
        reverse("admin:packages_prohibitedprojectname_add"),
        {"name": "Evil.Pkg", "comment": "typosquat of a popular package"},
    )
    assert response.status_code == 302, response.context and response.context["errors"]
    prohibition = ProhibitedProjectName.objects.get()
    assert (prohibition.normalized_name, prohibition.ultranormalized_name) == (
        "evil-pkg",
        "ev11pkg",
    )
    assert prohibition.prohibited_by == moderator

    token = make_token(make_user("squatter"))
    refused = post_upload(client, wheel_upload("evil_pkg", "1.0"), token)
    assert refused.status_code == 400
    assert refused.reason_phrase == (
        "The name 'evil_pkg' isn't allowed. "
        "See http://testserver/help/#project-name for more information."
    )
    similar = post_upload(client, wheel_upload("ev1lpkg", "1.0"), token)
    assert similar.status_code == 400
    assert similar.reason_phrase == (
        "The name 'ev1lpkg' is too similar to an existing project. "
        "See http://testserver/help/#project-name for more information."
    )
    assert not Project.objects.exists()


def test_prohibit_names_action_on_projects(client, moderator):
    project, _token = published(client, "squatted")
    client.force_login(moderator)
    run_action(client, Project, "prohibit_names", [project], reason="squatting")
    assert ProhibitedProjectName.objects.get().normalized_name == "squatted"
    assert Project.objects.filter(pk=project.pk).exists()  # The project itself stays.


# --- Users ----------------------------------------------------------------------------------


def test_moderator_freezes_and_unfreezes_a_user(client, moderator):
    project, token = published(client)
    owner = Role.objects.get(project=project).user
    client.force_login(moderator)
    run_action(client, owner.__class__, "freeze", [owner], reason="abuse")
    assert Account.objects.get(user=owner).is_frozen
    refused = post_upload(client, wheel_upload("demo", "2.0"), token)
    assert refused.status_code == 403
    assert "Invalid or non-existent authentication information" in refused.reason_phrase
    assert owner.events.filter(tag="account:frozen").exists()

    run_action(client, owner.__class__, "unfreeze", [owner], reason="appeal accepted")
    assert not Account.objects.get(user=owner).is_frozen
    assert post_upload(client, wheel_upload("demo", "2.0"), token).status_code == 200


def test_password_reset_is_for_administrators_and_mails_a_working_link(
    client, moderator, administrator, django_capture_on_commit_callbacks, settings
):
    from accounts.passwords import user_for_reset_token

    settings.REDIS_URL = ""  # Run the mail job inline (tests/packages/test_jobs.py: Redis).
    user = make_user("victim")
    client.force_login(moderator)
    assert offered_actions(client, user.__class__) == {"freeze", "unfreeze"}
    run_action(client, user.__class__, "reset_password", [user], reason="x")
    user.refresh_from_db()
    assert user.has_usable_password()

    client.force_login(administrator)
    with django_capture_on_commit_callbacks(execute=True):
        run_action(client, user.__class__, "reset_password", [user], reason="account takeover")
    user.refresh_from_db()
    assert not user.has_usable_password()
    (message,) = mail.outbox
    assert message.to == ["victim@example.com"]
    link = next(line for line in message.body.splitlines() if "/account/reset-password/" in line)
    assert user_for_reset_token(link.split("?token=", 1)[1].strip()) == user


def test_two_factor_removal_needs_an_identity_check(client, moderator, administrator):
    from accounts import twofactor

    user = make_user("locked-out")
    Account.objects.create(user=user, totp_secret="JBSWY3DPEHPK3PXP")
    client.force_login(moderator)
    run_action(client, user.__class__, "remove_two_factor", [user], reason="x")
    assert twofactor.has_two_factor(user)

    client.force_login(administrator)
    missing = run_action(client, user.__class__, "remove_two_factor", [user], reason="lost phone")
    assert missing.status_code == 200 and missing.context["form"].errors["identity_check"]
    run_action(
        client,
        user.__class__,
        "remove_two_factor",
        [user],
        reason="lost phone",
        identity_check="mail from the verified primary address; named last upload",
    )
    assert not twofactor.has_two_factor(user)
    event = user.events.get(tag="account:two_factor:removed_by_staff")
    assert event.additional["submitted_by"] == "boss"
    assert "verified primary" in event.additional["identity_check"]


# --- Site flags -----------------------------------------------------------------------------


def test_flags_are_switched_by_administrators_with_a_banner(client, moderator, administrator):
    flag = AdminFlag.objects.get(id="read-only")
    client.force_login(moderator)
    run_action(client, AdminFlag, "enable", [flag], reason="x")
    assert not AdminFlag.objects.get(id="read-only").enabled

    client.force_login(administrator)
    response = client.post(
        reverse("admin:packages_adminflag_change", args=["read-only"]),
        {"enabled": "on", "banner": "Database migration until 14:00 UTC", "reason": "upgrade"},
    )
    assert response.status_code == 302
    assert AdminFlag.objects.get(id="read-only").enabled
    assert "Database migration until 14:00 UTC" in client.get("/").content.decode()
    assert "Database migration until 14:00 UTC" in client.get("/admin/").content.decode()

    run_action(client, AdminFlag, "disable", [flag], reason="done")
    assert not AdminFlag.objects.get(id="read-only").enabled
    assert "Database migration" not in client.get("/").content.decode()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="planner estimates are PostgreSQL's")
def test_unfiltered_lists_use_the_planner_estimate_instead_of_counting(monkeypatch):
    from pypi_site import admin as site_admin

    Project.objects.bulk_create(
        Project(name=f"p{i}", normalized_name=f"p{i}", ultranormalized_name=f"p{i}")
        for i in range(300)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE packages_project")
    monkeypatch.setattr(site_admin, "COUNT_LIMIT", 100)
    with CaptureQueriesContext(connection) as captured:
        count = site_admin.EstimatedCountPaginator(Project.objects.order_by("pk"), 50).count
    assert count == 300
    assert not any("COUNT(" in q["sql"].upper() for q in captured)
    filtered = site_admin.EstimatedCountPaginator(
        Project.objects.filter(name__gt="p").order_by("pk"), 50
    )
    assert filtered.count == 101  # Counting stops past the limit.


def test_role_changes_in_admin_are_journaled_and_keep_an_owner(client, administrator):
    owner = make_user("owner")
    project = make_project("demo", owner=owner)
    helper = make_user("helper")
    client.force_login(administrator)
    added = client.post(
        reverse("admin:packages_role_add"),
        {"project": project.pk, "user": helper.pk, "role_name": "Maintainer"},
    )
    assert added.status_code == 302
    role = Role.objects.get(user=helper)
    last_owner = Role.objects.get(user=owner)
    demoted = client.post(
        reverse("admin:packages_role_change", args=[last_owner.pk]), {"role_name": "Maintainer"}
    )
    assert demoted.status_code == 200 and "last Owner" in demoted.content.decode()
    client.post(reverse("admin:packages_role_change", args=[role.pk]), {"role_name": "Owner"})
    run_action(client, Role, "remove", [last_owner], reason="handover")
    assert list(Role.objects.values_list("user__username", "role_name")) == [("helper", "Owner")]
    assert list(JournalEntry.objects.values_list("action", flat=True)) == [
        "add Maintainer helper",
        "change Maintainer helper to Owner",
        "remove Owner owner",
    ]
