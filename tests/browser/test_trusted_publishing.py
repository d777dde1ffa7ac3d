"""The trusted publishers' pages in a browser: an owner adds a GitHub and a self-managed
GitLab publisher and removes one; a user adds a pending publisher. Screenshots at desktop and
phone widths under test-artifacts/screenshots/ (trusted-publishers-*, pending-publishers-*)."""

from __future__ import annotations

import pytest

from tests.browser.conftest import PHONE, screenshot
from tests.browser.test_phone_widths import assert_fits
from tests.factories import make_project, make_user
from trusted_publishing.models import PendingPublisher, TrustedPublisher

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="browser tests need the playwright package"
)
pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "correct horse battery staple"


@pytest.fixture
def owner():
    user = make_user("alice")
    user.set_password(PASSWORD)
    user.save()
    make_project("sampleproject", owner=user)
    return user


def log_in(page, next_path: str) -> None:
    page.goto(f"/account/login/?next={next_path}")
    page.locator("input[name=username]").fill("alice")
    page.locator("input[name=password]").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"**{next_path}")


def test_owner_manages_trusted_publishers(page, owner):
    log_in(page, "/manage/project/sampleproject/publishing/")
    page.get_by_label("Owner", exact=True).fill("octo-org")
    page.get_by_label("Repository name").fill("sampleproject")
    page.get_by_label("Owner id").fill("1234")
    page.get_by_label("Workflow name").fill("release.yml")
    page.get_by_label("Environment name (optional)").fill("pypi")
    page.get_by_role("button", name="Add").click()
    page.wait_for_url("**/manage/project/sampleproject/publishing/")
    assert page.locator("tr.publisher").count() == 1
    assert "octo-org/sampleproject" in page.locator("tr.publisher").inner_text()

    page.get_by_role("link", name="GitLab CI/CD").click()
    page.get_by_label("Namespace").fill("platform-team/python")
    page.get_by_label("Project name").fill("sampleproject")
    page.get_by_label("Top-level pipeline file path").fill("ci/release.gitlab-ci.yml")
    page.get_by_label("GitLab URL (optional)").fill("https://gitlab.example.com")
    page.get_by_role("button", name="Add").click()
    page.wait_for_url("**/manage/project/sampleproject/publishing/")
    assert page.locator("tr.publisher").count() == 2
    assert TrustedPublisher.objects.count() == 2
    page.goto("/manage/project/sampleproject/publishing/")
    screenshot(page, "trusted-publishers")
    page.set_viewport_size(PHONE)
    assert_fits(page, "the publishers page")

    page.locator("tr.publisher").first.get_by_role("button", name="Remove").click()
    page.wait_for_url("**/manage/project/sampleproject/publishing/")
    assert list(TrustedPublisher.objects.values_list("kind", flat=True)) == ["gitlab"]
    assert "Removed the trusted publisher" in page.content()


def test_user_adds_a_pending_publisher(page, owner):
    log_in(page, "/manage/account/publishing/")
    page.get_by_label("Project name", exact=True).fill("brand-new-project")
    page.get_by_label("Owner", exact=True).fill("octo-org")
    page.get_by_label("Repository name").fill("brand-new-project")
    page.get_by_label("Owner id").fill("1234")
    page.get_by_label("Workflow name").fill("publish.yml")
    page.get_by_role("button", name="Add").click()
    page.wait_for_url("**/manage/account/publishing/")
    assert PendingPublisher.objects.get().project_name == "brand-new-project"
    assert "brand-new-project" in page.locator("tr.publisher").inner_text()
    screenshot(page, "pending-publishers")
    page.set_viewport_size(PHONE)
    assert_fits(page, "the pending publishers page")
