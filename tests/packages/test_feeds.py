from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from packages.models import Project
from tests.factories import make_project, make_release

pytestmark = pytest.mark.django_db


def items(response) -> list[dict[str, str]]:
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/xml")
    channel = ET.fromstring(response.content).find("channel")
    return [{child.tag: child.text for child in item} for item in channel.findall("item")]


def test_updates_feed_lists_newest_releases_of_visible_projects(client):
    demo = make_project("demo")
    make_release(demo, "1.0", summary="First")
    make_release(demo, "2.0", summary="Second", sort_order=1)
    make_release(make_project("hidden", lifecycle_status="quarantine-enter"), "1.0")
    feed = items(client.get("/rss/updates.xml"))
    assert [i["title"] for i in feed] == ["demo 2.0", "demo 1.0"]
    assert feed[0]["link"] == "http://testserver/project/demo/2.0/"
    assert feed[0]["description"] == "Second"
    assert feed[0]["pubDate"]


def test_packages_feed_lists_newest_projects_with_releases(client):
    make_release(make_project("old"), "1.0")
    make_release(make_project("new"), "1.0")
    make_project("empty")
    feed = items(client.get("/rss/packages.xml"))
    assert [i["title"] for i in feed] == ["new added to the index", "old added to the index"]
    assert feed[0]["link"] == "http://testserver/project/new/"


def test_project_feed_lists_its_releases(client):
    project = make_project("Demo")
    for i in range(45):
        make_release(project, f"1.{i}", sort_order=i)
    make_release(make_project("other"), "9.9")
    feed = items(client.get("/rss/project/demo/releases.xml"))
    assert len(feed) == 40
    assert feed[0]["title"] == "Demo 1.44"


def test_project_feed_is_404_for_unknown_or_quarantined_projects(client):
    assert client.get("/rss/project/nothing/releases.xml").status_code == 404
    make_release(make_project("demo"), "1.0")
    Project.objects.update(lifecycle_status="quarantine-enter")
    assert client.get("/rss/project/demo/releases.xml").status_code == 404
