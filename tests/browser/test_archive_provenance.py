"""An owner archives a project from its settings page and readers see it; the release page says
which repository and workflow built an attested file. Screenshots at desktop and phone sizes."""

from __future__ import annotations

import pytest

from attestations.models import Provenance
from packages.models import File, Project
from tests.browser.conftest import screenshot
from tests.browser.test_site import site  # noqa: F401 - the shared fixture

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="browser tests need the playwright package"
)
expect = sync_api.expect
pytestmark = pytest.mark.django_db(transaction=True)


def test_owner_archives_and_unarchives_from_settings(page, site):  # noqa: F811
    page.goto("/account/login/?next=/manage/project/Demo-Widgets/settings/")
    page.locator("input[name=username]").fill("alice")
    page.locator("input[name=password]").fill("correct horse battery staple")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/manage/project/Demo-Widgets/settings/")
    page.get_by_label("Note (optional)").fill("Superseded by other-thing")
    screenshot(page, "manage-settings-archive")
    page.get_by_role("button", name="Archive Demo-Widgets").click()
    expect(page.locator(".messages")).to_have_text("Archived project Demo-Widgets.")
    assert Project.objects.get(name="Demo-Widgets").is_archived
    screenshot(page, "manage-settings-unarchive")

    page.goto("/project/Demo-Widgets/")
    notice = page.get_by_role("note").filter(has_text="archived")
    assert "Superseded by other-thing" in notice.inner_text()
    screenshot(page, "project-archived")

    page.goto("/manage/project/Demo-Widgets/settings/")
    page.get_by_role("button", name="Unarchive Demo-Widgets").click()
    expect(page.locator(".messages")).to_have_text("Unarchived project Demo-Widgets.")
    assert Project.objects.get(name="Demo-Widgets").simple_status == "active"


def test_release_page_names_the_repository_and_workflow(page, site):  # noqa: F811
    file = File.objects.filter(release__version="1.1").order_by("filename").first()
    Provenance.objects.create(
        file=file,
        publisher_kind="GitHub",
        repository="example/demo-widgets",
        workflow="release.yml",
        environment="pypi",
        predicate_types=["https://docs.pypi.org/attestations/publish/v1"],
        body="{}",
    )
    File.objects.filter(pk=file.pk).update(has_provenance=True)
    page.goto("/project/Demo-Widgets/1.1/")
    built = page.locator(".file__provenance")
    expect(built).to_have_count(1)
    text = built.inner_text()
    assert "example/demo-widgets" in text and "release.yml" in text and "pypi" in text
    screenshot(page, "release-provenance")
