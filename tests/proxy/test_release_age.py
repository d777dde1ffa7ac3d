"""MIN_RELEASE_AGE: young upstream files are hidden from pages and the JSON API and their URLs
answer 403, counted from the upstream's upload-time; staff exemptions lift it until they
expire; local projects are never affected."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from packages.models import File, ReleaseAgeExemption
from tests.factories import make_files, make_project, make_release

pytestmark = pytest.mark.django_db

JSON = "application/vnd.pypi.simple.v1+json"


@pytest.fixture
def aged(settings, upstream):
    settings.MIN_RELEASE_AGE = 3 * 86400
    upstream.add_wheel("aged", "1.0", age=timedelta(days=30))
    upstream.add_wheel("aged", "2.0", age=timedelta(hours=5))
    return upstream


def versions(client) -> list[str]:
    return client.get("/simple/aged/", HTTP_ACCEPT=JSON).json()["versions"]


def young_url() -> str:
    return "/packages/" + File.objects.get(filename="aged-2.0-py3-none-any.whl").path


def test_young_release_is_hidden_and_its_file_refused(client, aged):
    assert versions(client) == ["1.0"]
    assert "aged-2.0" not in client.get("/simple/aged/").content.decode()
    api = client.get("/pypi/aged/json").json()
    assert api["info"]["version"] == "1.0" and list(api["releases"]) == ["1.0"]
    assert client.get("/pypi/aged/2.0/json").status_code == 404
    refused = client.get(young_url())
    assert refused.status_code == 403
    message = refused.content.decode()
    assert "release-age policy" in message and "5.0 hours ago" in message
    assert "3 days old (MIN_RELEASE_AGE)" in message
    assert aged.file_requests("aged-2.0-py3-none-any.whl") == 0


def test_exemption_serves_it_until_it_expires(client, aged):
    assert versions(client) == ["1.0"]
    exemption = ReleaseAgeExemption.objects.create(
        normalized_name="aged",
        version="2",
        reason="urgent security fix",
        expires=timezone.now() + timedelta(hours=1),
    )
    assert versions(client) == ["1.0", "2.0"]
    download = client.get(young_url())
    assert download.status_code == 200 and b"".join(download.streaming_content)
    exemption.expires = timezone.now() - timedelta(seconds=1)
    exemption.save()
    assert versions(client) == ["1.0"]
    assert client.get(young_url()).status_code == 403


def test_project_wide_exemption(client, aged):
    ReleaseAgeExemption.objects.create(
        normalized_name="aged", reason="vetted", expires=timezone.now() + timedelta(days=1)
    )
    assert versions(client) == ["1.0", "2.0"]


def test_release_appears_once_old_enough(client, settings, aged):
    assert versions(client) == ["1.0"]
    settings.MIN_RELEASE_AGE = 4 * 3600
    assert versions(client) == ["1.0", "2.0"]


def test_missing_upload_time_is_too_young_unless_allowed(client, settings, upstream):
    settings.MIN_RELEASE_AGE = 3600
    upstream.html_only = True  # PEP 503 pages carry no upload-time
    upstream.add_wheel("timeless", "1.0", age=timedelta(days=300))
    page = client.get("/simple/timeless/", HTTP_ACCEPT=JSON).json()
    assert page["files"] == []
    url = "/packages/" + File.objects.get().path
    assert "no upload time" in client.get(url).content.decode()
    settings.MIN_RELEASE_AGE_ALLOW_UNKNOWN = True
    assert len(client.get("/simple/timeless/", HTTP_ACCEPT=JSON).json()["files"]) == 1


def test_local_projects_are_not_affected(client, settings, upstream):
    settings.MIN_RELEASE_AGE = 3 * 86400
    make_files(make_release(make_project("fresh-local"), "1.0"), 1)
    files = client.get("/simple/fresh-local/", HTTP_ACCEPT=JSON).json()["files"]
    assert len(files) == 1
