from __future__ import annotations

import re

import pytest

from packages.jobs import render_description
from packages.models import File, Release, Role
from packages.templatetags.pages import site_url
from tests.browser.conftest import PHONE, screenshot
from tests.factories import make_files, make_project, make_release, make_user

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="browser tests need the playwright package"
)
expect = sync_api.expect
pytestmark = pytest.mark.django_db(transaction=True)

README = """\
# Demo widgets

Widgets for **demonstrations**, with a [home page](https://example.com/).

```python
import demo_widgets
demo_widgets.spin()
```

| Feature | Ready |
|---------|-------|
| Spin    | yes   |

<script>alert("xss")</script>
"""


@pytest.fixture
def site():
    """A project with a rendered README, a few releases and files, and an owner."""
    owner = make_user("alice")
    owner.set_password("correct horse battery staple")
    owner.save()
    project = make_project("Demo-Widgets", owner=owner)
    Role.objects.create(user=make_user("bob"), project=project, role_name="Maintainer")
    for position, version in enumerate(["0.9", "1.0", "1.1", "2.0rc1"]):
        release = make_release(
            project,
            version,
            sort_order=position,
            summary="Widgets for demonstrations",
            description=README,
            description_content_type="text/markdown",
            requires_python=">=3.10",
            keywords="widget demo",
            project_urls={"Source": "https://example.com/src", "Docs": "https://example.com/docs"},
            classifiers=[
                "Development Status :: 4 - Beta",
                "Framework :: Django",
                "License :: OSI Approved :: MIT License",
                "Programming Language :: Python :: 3",
            ],
        )
        make_files(release, 2)
        render_description(release.pk)
    Release.objects.filter(version="0.9").update(yanked=True, yanked_reason="Leaked a secret")
    make_release(make_project("other-thing"), "1.0", summary="Something else")
    return owner


def test_search_then_open_the_project(page, site):
    page.goto("/")
    screenshot(page, "home")
    page.get_by_label("Search projects").fill("widgets")
    page.get_by_label("Search projects").press("Enter")
    page.wait_for_url(re.compile(r"/search/\?q=widgets"))
    assert page.get_by_role("heading", level=1).inner_text() == "Search results for “widgets”"
    screenshot(page, "search")
    page.get_by_role("link", name=re.compile("Demo-Widgets")).click()
    page.wait_for_url("**/project/Demo-Widgets/")
    assert page.locator(".project-title").inner_text() == "Demo-Widgets 1.1"
    description = page.locator(".project-description")
    assert description.locator("h1").inner_text().startswith("Demo widgets")
    assert description.locator("table").count() == 1
    assert description.locator("script").count() == 0
    history = page.locator("#history")
    assert "2.0rc1" in history.inner_text() and "pre-release" in history.inner_text().lower()
    assert "Reason: Leaked a secret" in history.inner_text()
    page.get_by_text("Hashes for", exact=False).first.click()
    assert page.locator(".file__hashes table").first.is_visible()
    screenshot(page, "project")


def test_copy_the_install_line(page, site):
    page.goto("/project/Demo-Widgets/")
    pip = f"pip install --index-url {site_url()}/simple/ Demo-Widgets"
    button = page.locator("button[data-copy=install-command]")
    button.click()
    expect(page.locator(".copy-status").first).to_have_text("Copied to the clipboard")
    expect(button).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == pip
    page.goto("/project/Demo-Widgets/1.0/")
    page.locator("button[data-copy=install-command]").click()
    expect(page.locator(".copy-status").first).to_have_text("Copied to the clipboard")
    assert page.evaluate("navigator.clipboard.readText()") == f"{pip}==1.0"
    page.get_by_text("With uv").click()
    page.locator("button[data-copy=install-uv-add]").click()
    assert page.evaluate("navigator.clipboard.readText()") == (
        f"uv add --index {site_url()}/simple/ Demo-Widgets==1.0"
    )


def test_pages_work_without_javascript(browser, live_server, site):
    context = browser.new_context(java_script_enabled=False, base_url=live_server.url)
    page = context.new_page()
    page.goto("/project/Demo-Widgets/")
    assert page.locator("#install-command").inner_text() == (
        f"pip install --index-url {site_url()}/simple/ Demo-Widgets"
    )
    assert not page.locator(".copy-button").first.is_visible()  # nothing that cannot work
    page.goto("/search/?q=demo")
    assert page.get_by_role("link", name=re.compile("Demo-Widgets")).count() == 1
    context.close()


def test_keyboard_users_can_skip_to_the_content(page, site):
    page.goto("/project/Demo-Widgets/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to main content"
    page.keyboard.press("Enter")
    assert page.evaluate("location.hash") == "#content"


def test_phone_layout_has_no_horizontal_scroll(page, site):
    page.set_viewport_size(PHONE)
    for url in ("/", "/search/?q=widgets", "/project/Demo-Widgets/", "/classifiers/"):
        page.goto(url)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, url


def test_log_in_yank_with_a_reason_and_see_the_marker(page, site):
    page.goto("/account/login/?next=/manage/projects/")
    page.locator("input[name=username]").fill("alice")
    page.locator("input[name=password]").fill("correct horse battery staple")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/manage/projects/")
    screenshot(page, "manage-projects")
    page.get_by_role("link", name="Manage").click()
    page.get_by_role("link", name=re.compile("Options for 1.1")).click()
    page.wait_for_url("**/manage/project/Demo-Widgets/release/1.1/")
    page.get_by_label("Reason (optional)").fill("Breaks on Windows")
    page.get_by_label("Type “1.1” to confirm").fill("1.1")
    screenshot(page, "manage-release")
    page.get_by_role("button", name="Yank 1.1").click()
    expect(page.locator(".messages")).to_have_text("Yanked release 1.1.")
    assert Release.objects.get(version="1.1").yanked_reason == "Breaks on Windows"

    page.goto("/project/Demo-Widgets/1.1/")
    notice = page.get_by_role("note").filter(has_text="yanked")
    assert "Breaks on Windows" in notice.inner_text()
    # The latest release is now 1.0, the highest final release that is not yanked.
    page.goto("/project/Demo-Widgets/")
    assert page.locator(".project-title").inner_text() == "Demo-Widgets 1.0"

    simple = page.request.get("/simple/demo-widgets/")
    assert simple.ok
    yanked = {f.filename for f in File.objects.filter(release__version="1.1")}
    lines = [line for line in simple.text().splitlines() if "</a>" in line]
    for line in lines:
        assert ('data-yanked="Breaks on Windows"' in line) == any(f in line for f in yanked)
    page.goto("/manage/project/Demo-Widgets/history/")
    assert "project:release:yank" in page.locator("table").inner_text()
    screenshot(page, "manage-history")
