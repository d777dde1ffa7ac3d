"""The help page that refusal messages point to: one section per anchor the code links to."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APPS = ("accounts", "packages", "uploads", "pypi_site")

pytestmark = pytest.mark.django_db


class _Ids(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.ids.extend(value for name, value in attrs if name == "id" and value)


def referenced_anchors() -> set[str]:
    """Every `{settings.HELP_URL}#anchor` in the code (messages are f-strings)."""
    anchors = set()
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            anchors.update(re.findall(r"HELP_URL\}#([A-Za-z0-9_-]+)", path.read_text()))
    return anchors


def test_the_code_links_to_help_anchors():
    # Guards the grep below: if messages stop matching it, the next test would pass vacuously.
    assert {"invalid-auth", "project-name", "file-name-reuse"} <= referenced_anchors()


def test_help_page_has_a_section_for_every_anchor_the_code_links_to(client, settings):
    response = client.get(settings.HELP_URL)
    assert response.status_code == 200
    parser = _Ids()
    parser.feed(response.content.decode())
    assert len(parser.ids) == len(set(parser.ids)), "duplicate ids"
    missing = referenced_anchors() - set(parser.ids)
    assert not missing, f"no section on the help page for: {sorted(missing)}"


def test_help_page_states_this_index_limits(client, settings):
    settings.DEFAULT_UPLOAD_LIMIT = 5 * 1024**2
    page = client.get("/help/").content.decode()
    assert "5.0\xa0MB" in page


def test_no_message_sends_users_to_trusted_publishing_which_this_index_lacks():
    for app in (*APPS, "templates"):
        for path in (ROOT / app).rglob("*.*"):
            if path.suffix in {".py", ".html", ".txt"}:
                text = path.read_text()
                assert "Trusted Publisher" not in text and "trusted-publishers" not in text, path


def test_every_page_links_to_help(client):
    assert 'href="/help/"' in client.get("/").content.decode()
