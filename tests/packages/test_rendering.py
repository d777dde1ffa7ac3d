from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest

from packages.jobs import render_description
from packages.models import Release
from packages.rendering import parse_content_type
from packages.rendering import render_description as render
from tests.factories import (
    make_project,
    make_release,
    make_token,
    make_user,
    post_upload,
    wheel_upload,
)

HOSTILE_MARKDOWN = """\
# Title

<script>alert("md")</script>

[click me](javascript:alert(1))
[data](data:text/html;base64,PHNjcmlwdD4=)

<img src="x" onerror="alert(2)">
<a href="https://example.com/" onclick="alert(3)" style="color:red">styled</a>
<iframe src="https://example.com/"></iframe>
<form action="https://example.com/"><input name="x"></form>
<svg><script>alert(4)</script></svg>
"""


class _Inspector(HTMLParser):
    """Collects every tag and attribute, so the checks look at markup, not at escaped text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.tags.append(tag)
        self.attributes.extend((name, value or "") for name, value in attrs)


def assert_safe(html: str) -> None:
    inspector = _Inspector()
    inspector.feed(html)
    assert not {"script", "iframe", "form", "svg", "style", "object", "embed"} & set(inspector.tags)
    for name, value in inspector.attributes:
        assert not name.startswith("on"), name
        assert name != "style"
        if name in {"href", "src"}:
            assert urlsplit(value.strip()).scheme in {"", "http", "https", "mailto"}, value


def test_markdown_renders_with_github_flavour():
    html = render(text="# Title\n\n| a | b |\n|---|---|\n| 1 | 2 |\n", content_type="text/markdown")
    assert "<h1" in html and "Title" in html
    assert "<table>" in html


def test_markdown_with_script_links_and_raw_html_renders_safely():
    html = render(text=HOSTILE_MARKDOWN, content_type="text/markdown; charset=UTF-8")
    assert_safe(html)
    assert "Title" in html and "styled" in html
    assert 'rel="nofollow noopener"' in html


def test_restructuredtext_is_the_default_and_unsafe_links_lose_their_href():
    text = "Heading\n=======\n\nSee `x <javascript:alert(1)>`_ and `y <https://e.com>`_\n"
    html = render(text=text, content_type="")
    assert "<h1>Heading" in html
    assert '<a href="https://e.com"' in html
    assert_safe(html)
    assert "javascript" not in html


def test_restructuredtext_raw_directive_is_not_executed():
    text = "Heading\n=======\n\n.. raw:: html\n\n   <script>alert(1)</script>\n"
    html = render(text=text, content_type="text/x-rst")
    assert_safe(html)
    assert "<script" not in html


def test_invalid_restructuredtext_falls_back_to_escaped_text():
    html = render(
        text="Broken\n===\n\n.. unknown-directive::\n<script>x</script>", content_type="text/x-rst"
    )
    assert_safe(html)
    assert "&lt;script&gt;" in html
    assert html.startswith('<pre class="plain-description">')


def test_plain_text_keeps_line_breaks_and_escapes_markup():
    html = render(text="one\ntwo <b>bold</b>", content_type="text/plain")
    assert html.startswith("<pre")
    assert "one<br>two &lt;b&gt;bold&lt;/b&gt;" in html


def test_unknown_content_type_is_treated_as_plain_text():
    html = render(text="<script>x</script>", content_type="application/x-evil")
    assert_safe(html)
    assert "&lt;script&gt;" in html


def test_markdown_variant_parameter():
    assert parse_content_type('text/markdown; variant="CommonMark"') == (
        "text/markdown",
        {"variant": "CommonMark"},
    )
    html = render(text="~~gone~~", content_type="text/markdown; variant=CommonMark")
    assert "<del>" not in html  # strikethrough is a GFM extension


def test_empty_description_renders_nothing():
    assert render(text="", content_type="text/markdown") == ""


@pytest.mark.django_db
def test_job_stores_sanitized_html_and_is_safe_to_run_twice():
    release = make_release(
        make_project(), description=HOSTILE_MARKDOWN, description_content_type="text/markdown"
    )
    render_description(release.pk)
    release.refresh_from_db()
    first = release.description_rendered_at
    assert first is not None
    assert_safe(release.description_html)
    render_description(release.pk)
    release.refresh_from_db()
    assert release.description_rendered_at >= first
    assert_safe(release.description_html)


@pytest.mark.django_db
def test_job_skips_a_deleted_release():
    render_description(123456)  # no error


@pytest.mark.django_db
def test_upload_renders_the_description_once_committed(
    client, settings, django_capture_on_commit_callbacks
):
    settings.REDIS_URL = ""  # run jobs in-process even when the suite runs against Redis
    token = make_token(make_user())
    upload = wheel_upload(
        "demo",
        "1.0",
        fields={"description": "Hello *world*", "description_content_type": "text/markdown"},
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert post_upload(client, upload, token).status_code == 200
    release = Release.objects.get()
    assert release.description_html.strip() == "<p>Hello <em>world</em></p>"
    assert release.description_rendered_at is not None
    page = client.get("/project/demo/")
    assert b"<p>Hello <em>world</em></p>" in page.content


@pytest.mark.django_db
def test_page_escapes_a_description_not_rendered_yet(client):
    make_release(make_project(), description="<script>alert(1)</script>")
    page = client.get("/project/demo/").content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


@pytest.mark.django_db
def test_code_blocks_are_coloured_by_the_shipped_pygments_stylesheet(client):
    from django.conf import settings

    from packages.rendering import PYGMENTS_SCOPE, pygments_stylesheet

    shipped = (settings.BASE_DIR / "static" / "css" / "pygments.css").read_text()
    assert shipped == pygments_stylesheet(), "regenerate static/css/pygments.css"
    html = render(text="```python\nimport os\n```\n", content_type="text/markdown")
    assert '<span class="kn">import</span>' in html
    assert f"{PYGMENTS_SCOPE} .kn {{ color: #008000" in shipped
    page = client.get("/").content.decode()
    assert '<link rel="stylesheet" href="/static/css/pygments.css">' in page
