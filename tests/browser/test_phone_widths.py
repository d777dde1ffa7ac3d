"""At a phone's 390 px nothing scrolls sideways: long tokens, names, commands and READMEs wrap
or scroll inside their own box."""

from __future__ import annotations

import pytest

from packages.events import record_project_event
from packages.jobs import render_description
from packages.models import File
from tests.browser.conftest import PHONE, screenshot
from tests.factories import make_files, make_project, make_release, make_user

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="browser tests need the playwright package"
)
pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "correct horse battery staple"
LONG_NAME = "an-extremely-long-project-name-for-testing-the-layout-of-narrow-screens"
LONG_WORD = "Supercalifragilistic" * 6
README = f"""\
# {LONG_NAME}

{LONG_WORD} and a bare link https://example.com/{"very/" * 30}long.

```python
result = some_function_with_a_long_name(argument_number_one, argument_number_two, argument_three)
```

| Column with a long header | Another long column header | And a third one | And a fourth |
|---|---|---|---|
| {LONG_WORD} | value | value | value |
"""
UPLOADED_VIA = (
    "twine/6.1.0 requests/2.32.3 requests-toolbelt/1.0.0 urllib3/2.2.3 CPython/3.11.4 "
    "Linux/6.1.0-28-amd64"
)


@pytest.fixture
def site():
    owner = make_user("alice")
    owner.set_password(PASSWORD)
    owner.save()
    project = make_project(LONG_NAME, owner=owner)
    release = make_release(
        project,
        "1.0.0.post1.dev20240101",
        summary=LONG_WORD,
        description=README,
        description_content_type="text/markdown",
        keywords=LONG_WORD,
        requires_dist=[f"{LONG_NAME}[extra]>=1.0; python_version >= '3.10'"],
        project_urls={LONG_WORD: f"https://example.com/{LONG_WORD}"},
    )
    (file,) = make_files(release, 1)
    File.objects.filter(pk=file.pk).update(uploaded_via=UPLOADED_VIA)
    render_description(release.pk)
    record_project_event(
        project=project,
        tag="project:release:file:add",
        user=owner,
        filename=file.filename,
        uploaded_via=UPLOADED_VIA,
    )
    return owner


# The innermost elements sticking out on the right, to say what to fix when a page is too wide.
WIDE_ELEMENTS = """() => {
  const out = e => e.getBoundingClientRect().right > window.innerWidth + 1;
  return Array.from(document.querySelectorAll("body *"))
    .filter(e => out(e) && !Array.from(e.children).some(out))
    .slice(0, 5)
    .map(e => `${e.tagName.toLowerCase()}.${e.className} ${e.getBoundingClientRect().right}`);
}"""


def assert_fits(page, what: str) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{what} is {width} px wide: {page.evaluate(WIDE_ELEMENTS)}"


def test_pages_fit_a_phone(page, site):
    page.set_viewport_size(PHONE)
    page.goto("/account/login/")
    page.locator("input[name=username]").fill("alice")
    page.locator("input[name=password]").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/manage/account/")

    page.goto("/manage/account/token/")
    page.locator("input[name=description]").fill(LONG_WORD[:100])
    page.get_by_role("button", name="Create token").click()
    page.wait_for_url("**/manage/account/token/")
    token = page.locator("#new-token").inner_text()
    assert len(token) > 60  # wider than a phone in a monospace font
    assert_fits(page, "the new token's page")
    screenshot(page, "phone-token")

    for url in (
        "/manage/account/",
        "/manage/account/two-factor/",
        "/manage/account/totp-provision",
        "/manage/account/recovery-codes/",
        "/manage/projects/",
        f"/manage/project/{LONG_NAME}/releases/",
        f"/manage/project/{LONG_NAME}/release/1.0.0.post1.dev20240101/",
        f"/manage/project/{LONG_NAME}/history/",
        f"/manage/project/{LONG_NAME}/settings/",
        f"/manage/project/{LONG_NAME}/collaboration/",
        f"/project/{LONG_NAME}/",
        "/user/alice/",
        "/help/",
    ):
        page.goto(url)
        assert_fits(page, url)
    page.goto(f"/project/{LONG_NAME}/")
    screenshot(page, "phone-project")


def test_new_token_has_a_copy_button(page, site):
    page.goto("/account/login/?next=/manage/account/token/")
    page.locator("input[name=username]").fill("alice")
    page.locator("input[name=password]").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/manage/account/token/")
    page.locator("input[name=description]").fill("laptop")
    page.get_by_role("button", name="Create token").click()
    token = page.locator("#new-token").inner_text()
    page.get_by_role("button", name="Copy the token to the clipboard").click()
    assert page.evaluate("navigator.clipboard.readText()") == token
    page.reload()
    assert page.locator("#new-token").count() == 0
