"""Organizations in a browser: create one, invite a member who accepts from the mail, make a
team with them, move a personal project into the organization and give the team a role on it,
give it back to a member and delete the organization; screenshots of each page at desktop and
phone widths, none scrolling sideways."""

from __future__ import annotations

import re

import pytest

from organizations.models import Organization, OrganizationRole, TeamMember
from packages import permissions
from packages.models import Project, TeamProjectRole
from tests.browser.conftest import DESKTOP, PHONE, screenshot
from tests.factories import make_project, make_release, make_user

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="browser tests need the playwright package"
)
expect = sync_api.expect
pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "correct horse battery staple"


def no_sideways_scroll(page) -> None:
    size = page.viewport_size
    page.set_viewport_size(PHONE)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    page.set_viewport_size(size)
    assert overflow <= 0, page.url


def look(page, name: str) -> None:
    screenshot(page, name)
    no_sideways_scroll(page)


def log_in(page, username: str, then: str) -> None:
    page.goto(f"/account/login/?next={then}")
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"**{then}")


@pytest.fixture
def people():
    users = {}
    for name in ("alice", "bob"):
        users[name] = make_user(name)
        users[name].set_password(PASSWORD)
        users[name].save()
    project = make_project("widgets", owner=users["alice"])
    make_release(project, "1.0", summary="Spinning widgets for everyone")
    return users


def test_organization_flow(page, browser, live_server, people, mailoutbox):
    bob = people["bob"]
    # 1. Alice creates the organization.
    log_in(page, "alice", "/manage/organizations/")
    page.get_by_label("Organization account name").fill("acme")
    page.get_by_label("Display name").fill("Acme Widgets Inc.")
    page.get_by_label("URL").fill("https://acme.example/")
    page.get_by_label("Description").fill("We make the widgets everyone spins.")
    look(page, "org-create")
    page.get_by_role("button", name="Create organization").click()
    page.wait_for_url("**/manage/organization/acme/")
    expect(page.locator(".messages")).to_have_text("Created organization 'acme'.")
    look(page, "org-settings")

    # 2. She invites Bob as a Member; the mail carries the link.
    page.get_by_role("link", name="People").click()
    page.get_by_label("Username").fill("bob")
    page.get_by_label("Role", exact=True).select_option("Member")
    page.get_by_role("button", name="Invite").click()
    expect(page.locator(".messages")).to_have_text("Invitation sent to 'bob'")
    look(page, "org-people")
    (mail,) = mailoutbox
    link = re.search(r"http://testserver(/account/verify-organization-role/\S+)", mail.body)
    assert link, mail.body

    # 3. Bob accepts, in a browser of his own.
    context = browser.new_context(viewport=DESKTOP, base_url=live_server.url)
    bob_page = context.new_page()
    log_in(bob_page, "bob", "/manage/organizations/")
    bob_page.goto(link.group(1))
    expect(bob_page.get_by_role("heading", level=1)).to_have_text("Invitation to Acme Widgets Inc.")
    look(bob_page, "org-invitation")
    bob_page.get_by_role("button", name="Accept").click()
    bob_page.wait_for_url("**/manage/organization/acme/")
    expect(bob_page.locator(".messages")).to_have_text(
        "You are now Member of the 'acme' organization."
    )
    assert OrganizationRole.objects.get(user=bob).role_name == "Member"

    # 4. Alice makes a team and puts Bob in it.
    page.get_by_role("link", name="Teams").click()
    page.get_by_label("Team name").fill("Core")
    page.get_by_role("button", name="Create team").click()
    page.wait_for_url("**/manage/organization/acme/team/Core/")
    page.get_by_label("Username").fill("bob")
    page.get_by_role("button", name="Add to team").click()
    expect(page.locator(".messages")).to_have_text("Added 'bob'.")
    look(page, "org-team")
    assert TeamMember.objects.get().user == bob

    # 5. She moves her personal project into the organization.
    page.goto("/manage/project/widgets/settings/")
    page.get_by_label("New owner organization").select_option("acme")
    look(page, "project-transfer")
    page.get_by_role("button", name="Move widgets into the organization").click()
    expect(page.locator(".messages")).to_have_text("Moved widgets into the organization acme.")
    assert Project.objects.get().organization == Organization.objects.get()

    # 6. And gives the team the Maintainer role on it.
    page.goto("/manage/project/widgets/collaboration/")
    page.get_by_label("Team").select_option("Core")
    page.get_by_label("Role", exact=True).select_option("Maintainer")
    page.get_by_role("button", name="Give the team this role").click()
    expect(page.locator(".messages")).to_have_text("Team 'Core' is now Maintainer.")
    look(page, "project-team-roles")
    assert TeamProjectRole.objects.get().role_name == "Maintainer"
    project = Project.objects.get()
    assert permissions.upload_denial(user=bob, project=project) is None
    assert permissions.manage_denial(user=bob, project=project) is not None

    # Bob now sees the project among his own, as Maintainer.
    bob_page.goto("/manage/projects/")
    expect(bob_page.locator(".manage-item").filter(has_text="widgets")).to_contain_text(
        "Maintainer"
    )
    # The public page lists it; the history has it all.
    page.goto("/org/acme/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Acme Widgets Inc.")
    expect(page.locator(".package-list")).to_contain_text("Spinning widgets for everyone")
    look(page, "org-public")
    page.goto("/manage/organization/acme/history/")
    history = page.locator("table").inner_text()
    for tag in (
        "organization:create",
        "organization:organization_role:invite",
        "organization:organization_role:add",
        "organization:team:create",
        "organization:team:member:add",
        "organization:organization_project:add",
        "organization:team_project_role:add",
    ):
        assert tag in history, tag
    look(page, "org-history")

    # 7. Alice gives the project back to Bob, as his personal project...
    page.goto("/manage/organization/acme/projects/")
    page.get_by_label("Project", exact=True).select_option("widgets")
    page.get_by_label("New personal Owner").select_option("bob")
    look(page, "org-remove-project")
    page.get_by_role("button", name="Remove from acme").click()
    expect(page.locator(".messages")).to_have_text(
        "Removed widgets from the organization acme; bob owns it."
    )
    project = Project.objects.get()
    assert project.organization is None and not TeamProjectRole.objects.exists()
    assert permissions.manage_denial(user=bob, project=project) is None

    # 8. ...and deletes the organization, which owns nothing now, typing its name.
    page.goto("/manage/organization/acme/")
    page.get_by_label("Type the organization's name to confirm").fill("acme")
    look(page, "org-delete")
    page.get_by_role("button", name="Delete organization acme").click()
    page.wait_for_url("**/manage/organizations/")
    expect(page.locator(".messages")).to_have_text("Deleted organization 'acme'.")
    assert not Organization.objects.exists()
    context.close()
