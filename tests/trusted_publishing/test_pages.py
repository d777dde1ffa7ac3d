"""Owners' /manage/project/<name>/publishing/, users' /manage/account/publishing/, the
command and the admin."""

from __future__ import annotations

import time

import pytest
from django.core.management import CommandError, call_command

from accounts.login import AUTHENTICATED_AT_KEY
from packages.models import ProjectEvent, Role
from tests.factories import make_project, make_user
from trusted_publishing.models import OidcIssuer, PendingPublisher, TrustedPublisher

pytestmark = pytest.mark.django_db
PAGE = "/manage/project/demo/publishing/"
GITHUB = {
    "owner": "octo-org",
    "repository": "demo",
    "owner_id": "1234",
    "workflow": "release.yml",
    "environment": "pypi",
}


def log_in(client, user, *, fresh: bool = True):
    client.force_login(user)
    session = client.session
    session[AUTHENTICATED_AT_KEY] = time.time() if fresh else 0
    session.save()
    return client


@pytest.fixture
def owner():
    user = make_user("alice")
    make_project("demo", owner=user)
    return user


def test_owner_adds_and_removes_a_github_publisher(client, owner):
    log_in(client, owner)
    assert b"Add a trusted publisher" in client.get(PAGE).content
    response = client.post(PAGE + "?kind=github", GITHUB)
    assert response.status_code == 302
    publisher = TrustedPublisher.objects.get()
    assert (publisher.owner, publisher.workflow, publisher.added_by) == (
        "octo-org",
        "release.yml",
        owner,
    )
    page = client.get(PAGE).content.decode()
    assert "octo-org/demo" in page and "release.yml" in page
    added = ProjectEvent.objects.get(tag="project:oidc:publisher-added")
    assert added.user == owner and "octo-org/demo" in added.additional["publisher"]
    removed = client.post(f"{PAGE}{publisher.pk}/remove/")
    assert removed.status_code == 302
    assert not TrustedPublisher.objects.exists()
    assert ProjectEvent.objects.filter(tag="project:oidc:publisher-removed").exists()


@pytest.mark.parametrize(
    ("kind", "data", "message"),
    [
        ("github", {**GITHUB, "workflow": "release"}, "must end in .yml"),
        ("github", {**GITHUB, "owner_id": "octo"}, "is a number"),
        ("github", {**GITHUB, "workflow": "../x.yml"}, "not valid"),
        ("gitlab", {"owner": "g", "repository": "p", "workflow": ".gitlab-ci.yml",
                    "issuer_url": "http://gitlab.internal"}, "must use https"),
        ("google", {"email": "not-an-address"}, "not an address"),
    ],
)  # fmt: skip
def test_bad_publishers_are_refused_with_a_message(client, owner, kind, data, message):
    log_in(client, owner)
    response = client.post(f"{PAGE}?kind={kind}", data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not TrustedPublisher.objects.exists()


def test_duplicates_are_refused(client, owner):
    log_in(client, owner)
    client.post(PAGE + "?kind=github", GITHUB)
    response = client.post(PAGE + "?kind=github", {**GITHUB, "owner": "OCTO-ORG"})
    assert response.status_code == 400
    assert b"already has that publisher" in response.content
    assert TrustedPublisher.objects.count() == 1


def test_only_owners_manage_publishers_after_a_fresh_password(client, owner):
    maintainer = make_user("bob")
    Role.objects.create(user=maintainer, project=owner.project_roles.get().project,
                        role_name="Maintainer")  # fmt: skip
    log_in(client, maintainer)
    assert client.get(PAGE).status_code == 403
    assert client.post(PAGE + "?kind=github", GITHUB).status_code == 403
    log_in(client, owner, fresh=False)
    assert client.post(PAGE + "?kind=github", GITHUB)["Location"].startswith(
        "/account/reauthenticate/"
    )
    assert not TrustedPublisher.objects.exists()


def test_user_adds_a_pending_publisher(client):
    alice = make_user("alice")
    log_in(client, alice)
    page = "/manage/account/publishing/"
    assert client.get(page).status_code == 200
    response = client.post(page + "?kind=github", {"project_name": "new-thing", **GITHUB})
    assert response.status_code == 302
    pending = PendingPublisher.objects.get()
    assert (pending.project_name, pending.normalized_name, pending.added_by) == (
        "new-thing",
        "new-thing",
        alice,
    )
    # An existing name is refused; so is a second pending publisher for the same name.
    make_project("taken")
    taken = client.post(page + "?kind=github", {"project_name": "taken", **GITHUB})
    assert taken.status_code == 400 and b"already exists" in taken.content
    again = client.post(page + "?kind=github", {"project_name": "New_Thing", **GITHUB})
    assert again.status_code == 400
    other = make_user("bob")
    log_in(client, other)
    assert client.post(f"{page}{pending.pk}/remove/").status_code == 404
    log_in(client, alice)
    assert client.post(f"{page}{pending.pk}/remove/").status_code == 302
    assert not PendingPublisher.objects.exists()


def test_command_adds_publishers_of_each_kind(owner, capsys):
    call_command(
        "add_trusted_publisher", "demo", "--kind", "github", "--repository", "octo-org/demo",
        "--repository-owner-id", "1234", "--workflow", "release.yml", "--actor", "ops",
    )  # fmt: skip
    call_command(
        "add_trusted_publisher", "demo", "--kind", "gitlab", "--repository",
        "group/sub/demo", "--workflow", "ci/release.yml",
        "--issuer-url", "https://gitlab.example.com",
    )  # fmt: skip
    call_command("add_trusted_publisher", "demo", "--kind", "google", "--email", "ci@example.com")
    OidcIssuer.objects.create(
        name="forgejo", issuer_url="https://code.example.com",
        claim_rules=[{"claim": "repository", "match": "exact"}],
    )  # fmt: skip
    call_command(
        "add_trusted_publisher", "demo", "--kind", "generic", "--issuer", "forgejo",
        "--claim", "repository=team/demo",
    )  # fmt: skip
    kinds = dict(TrustedPublisher.objects.values_list("kind", "owner"))
    assert kinds == {"github": "octo-org", "gitlab": "group/sub", "google": "", "generic": ""}
    event = ProjectEvent.objects.filter(tag="project:oidc:publisher-added").first()
    assert event.additional["submitted_by"] == "ops"
    assert "Added to demo" in capsys.readouterr().out


def test_command_pending_and_dry_run(owner):
    call_command(
        "add_trusted_publisher", "later", "--kind", "github", "--repository", "o/later",
        "--repository-owner-id", "1", "--workflow", "r.yml", "--pending", "--user", "alice",
        "--dry-run",
    )  # fmt: skip
    assert not PendingPublisher.objects.exists()
    call_command(
        "add_trusted_publisher", "later", "--kind", "github", "--repository", "o/later",
        "--repository-owner-id", "1", "--workflow", "r.yml", "--pending", "--user", "alice",
    )  # fmt: skip
    assert PendingPublisher.objects.get().added_by == owner
    with pytest.raises(CommandError, match="No project named"):
        call_command(
            "add_trusted_publisher", "nothing", "--kind", "google", "--email", "a@example.com"
        )
    with pytest.raises(CommandError, match="required"):
        call_command("add_trusted_publisher", "demo", "--kind", "github")


def test_admin_lists_publishers_and_registers_issuers(admin_client, owner):
    call_command("add_trusted_publisher", "demo", "--kind", "google", "--email", "ci@example.com")
    for path in (
        "/admin/trusted_publishing/trustedpublisher/",
        "/admin/trusted_publishing/pendingpublisher/",
        "/admin/trusted_publishing/publishertoken/",
        "/admin/trusted_publishing/oidcissuer/add/",
    ):
        assert admin_client.get(path).status_code == 200, path
    response = admin_client.post(
        "/admin/trusted_publishing/oidcissuer/add/",
        {"name": "bk", "issuer_url": "https://agent.buildkite.com/", "audience": "",
         "claim_rules": '[{"claim": "pipeline_slug", "match": "nope"}]', "enabled": "on"},
    )  # fmt: skip
    assert response.status_code == 200 and not OidcIssuer.objects.exists()
    response = admin_client.post(
        "/admin/trusted_publishing/oidcissuer/add/",
        {"name": "bk", "issuer_url": "https://agent.buildkite.com/", "audience": "",
         "claim_rules": '[{"claim": "pipeline_slug", "match": "exact"}]', "enabled": "on"},
    )  # fmt: skip
    assert response.status_code == 302
    assert OidcIssuer.objects.get().issuer_url == "https://agent.buildkite.com"


def test_admin_adds_and_deletes_publishers_with_events(admin_client, owner):
    project = owner.project_roles.get().project
    response = admin_client.post(
        "/admin/trusted_publishing/trustedpublisher/add/",
        {"project": project.pk, "kind": "google", "email": "ci@example.com", "claims": "{}"},
    )
    assert response.status_code == 302, response.content[-2000:]
    publisher = TrustedPublisher.objects.get()
    assert ProjectEvent.objects.filter(tag="project:oidc:publisher-added").exists()
    bad = admin_client.post(
        "/admin/trusted_publishing/trustedpublisher/add/",
        {"project": project.pk, "kind": "github", "owner": "o", "claims": "{}"},
    )
    assert bad.status_code == 200 and TrustedPublisher.objects.count() == 1
    pending = admin_client.post(
        "/admin/trusted_publishing/pendingpublisher/add/",
        {"project_name": "Later_Thing", "kind": "google", "email": "ci@example.com",
         "claims": "{}"},
    )  # fmt: skip
    assert pending.status_code == 302
    assert PendingPublisher.objects.get().normalized_name == "later-thing"
    admin_client.post(
        f"/admin/trusted_publishing/trustedpublisher/{publisher.pk}/delete/", {"post": "yes"}
    )
    assert not TrustedPublisher.objects.exists()
    assert ProjectEvent.objects.filter(tag="project:oidc:publisher-removed").exists()
