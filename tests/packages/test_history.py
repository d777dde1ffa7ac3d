"""The point-in-time view (/as-of/<moment>/...): later uploads absent, later yanks, un-yanks
and deletions undone, purges and quarantines applied at every moment."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.files.storage import storages
from django.core.management import call_command
from django.utils import timezone

from packages import moderation
from packages.history import format_moment
from packages.models import File, Project, Release
from packages.releases import (
    delete_file,
    delete_project,
    delete_release,
    unyank_release,
    yank_release,
)
from tests.factories import make_token, make_user, post_upload, sdist_upload, wheel_upload

pytestmark = pytest.mark.django_db

JSON = "application/vnd.pypi.simple.v1+json"


def upload(client, token, *uploads) -> None:
    for one in uploads:
        assert post_upload(client, one, token).status_code == 200


def now() -> str:
    return format_moment(timezone.now())


def simple_json(client, url: str) -> dict:
    response = client.get(url, HTTP_ACCEPT=JSON)
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == JSON
    return json.loads(response.content)


def filenames(page: dict) -> list[str]:
    return [f["filename"] for f in page["files"]]


@pytest.fixture
def token():
    return make_token(make_user())


@pytest.fixture
def story(client, token) -> dict[str, str]:
    """demo 1.0 (wheel, sdist) at `one`; 2.0 at `two`; 1.0 yanked at `yanked`; 1.0's sdist
    deleted at `deleted`; 1.0 un-yanked at `unyanked` (each moment taken after its step)."""
    moments = {"before": now()}
    upload(client, token, wheel_upload("Demo", "1.0"), sdist_upload("Demo", "1.0"))
    moments["one"] = now()
    upload(client, token, wheel_upload("Demo", "2.0"))
    moments["two"] = now()
    yank_release(release=Release.objects.get(version="1.0"), reason="broken")
    moments["yanked"] = now()
    delete_file(file=File.objects.get(packagetype="sdist"))
    moments["deleted"] = now()
    unyank_release(release=Release.objects.get(version="1.0"))
    moments["unyanked"] = now()
    return moments


def test_later_uploads_are_absent(client, story):
    one = simple_json(client, f"/as-of/{story['one']}/simple/demo/")
    assert filenames(one) == ["demo-1.0-py3-none-any.whl", "demo-1.0.tar.gz"]
    assert one["versions"] == ["1.0"]
    two = simple_json(client, f"/as-of/{story['two']}/simple/demo/")
    assert one["name"] == "demo" and len(two["files"]) == 3
    html = client.get(f"/as-of/{story['one']}/simple/demo/").content.decode()
    assert "demo-1.0.tar.gz" in html and "demo-2.0" not in html
    assert client.get(f"/as-of/{story['before']}/simple/demo/").status_code == 404


def test_yanks_and_unyanks_apply_only_from_their_moment(client, story):
    def yanked(moment: str) -> dict[str, object]:
        page = simple_json(client, f"/as-of/{story[moment]}/simple/demo/")
        return {f["filename"]: f["yanked"] for f in page["files"]}

    assert yanked("two")["demo-1.0-py3-none-any.whl"] is False
    assert yanked("yanked")["demo-1.0-py3-none-any.whl"] == "broken"
    assert yanked("yanked")["demo-2.0-py3-none-any.whl"] is False
    assert yanked("unyanked")["demo-1.0-py3-none-any.whl"] is False
    html = client.get(f"/as-of/{story['deleted']}/simple/demo/").content.decode()
    assert 'data-yanked="broken"' in html


def test_a_file_deleted_later_is_listed_and_served_only_at_earlier_moments(client, story):
    sdist = File.all_objects.get(packagetype="sdist")
    live = simple_json(client, "/simple/demo/")
    assert "demo-1.0.tar.gz" not in filenames(live)
    assert client.get(f"/packages/{sdist.path}").status_code == 404

    page = simple_json(client, f"/as-of/{story['two']}/simple/demo/")
    entry = next(f for f in page["files"] if f["filename"] == "demo-1.0.tar.gz")
    assert entry["url"] == f"http://testserver/as-of/{story['two']}/packages/{sdist.path}"
    assert entry["hashes"]["sha256"] == sdist.sha256_digest
    response = client.get(entry["url"])
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == storages["default"].open(sdist.path).read()
    assert response["Cache-Control"] == "public, max-age=600"
    # A file still live keeps its live URL.
    wheel = next(f for f in page["files"] if f["filename"] == "demo-2.0-py3-none-any.whl")
    assert wheel["url"].startswith("http://testserver/packages/")
    # Not at a moment after its deletion, nor before its upload.
    assert "demo-1.0.tar.gz" not in filenames(
        simple_json(client, f"/as-of/{story['deleted']}/simple/demo/")
    )
    assert client.get(f"/as-of/{story['deleted']}/packages/{sdist.path}").status_code == 404
    assert client.get(f"/as-of/{story['before']}/packages/{sdist.path}").status_code == 404


def test_deleted_releases_and_projects_come_back_at_earlier_moments(client, token, story):
    delete_release(release=Release.objects.get(version="2.0"))
    after_release = now()
    delete_project(project=Project.objects.get())
    after_project = now()
    assert client.get("/simple/demo/").status_code == 404
    assert "demo-2.0-py3-none-any.whl" in filenames(
        simple_json(client, f"/as-of/{story['two']}/simple/demo/")
    )
    assert filenames(simple_json(client, f"/as-of/{after_release}/simple/demo/")) == [
        "demo-1.0-py3-none-any.whl"
    ]
    assert client.get(f"/as-of/{after_project}/simple/demo/").status_code == 404
    # The name taken again: each moment shows the project that had it then.
    upload(client, token, wheel_upload("demo", "3.0"))
    assert filenames(simple_json(client, f"/as-of/{now()}/simple/demo/")) == [
        "demo-3.0-py3-none-any.whl"
    ]
    assert len(simple_json(client, f"/as-of/{story['two']}/simple/demo/")["files"]) == 3


def test_staff_removals_and_purges_apply_at_every_moment(client, story):
    sdist = File.all_objects.get(packagetype="sdist")
    out = StringIO()
    call_command("purge_deleted", "--project", "Demo", "--dry-run", stdout=out)
    assert "would purge 1 deleted file" in out.getvalue()
    assert File.all_objects.filter(pk=sdist.pk).exists()
    call_command("purge_deleted", "--file", sdist.filename, stdout=out)
    assert not File.all_objects.filter(pk=sdist.pk).exists()
    assert filenames(simple_json(client, f"/as-of/{story['one']}/simple/demo/")) == [
        "demo-1.0-py3-none-any.whl"
    ]
    assert client.get(f"/as-of/{story['one']}/packages/{sdist.path}").status_code == 404

    moderation.remove_release(release=Release.objects.get(version="2.0"), reason="malware")
    assert "demo-2.0-py3-none-any.whl" not in filenames(
        simple_json(client, f"/as-of/{story['two']}/simple/demo/")
    )


def test_quarantine_applies_at_every_moment(client, story):
    wheel = File.objects.get(release__version="1.0")
    moderation.quarantine_project(project=Project.objects.get(), reason="report", notice="held")
    page = simple_json(client, f"/as-of/{story['one']}/simple/demo/")
    assert page["files"] == [] and page["project-status"] == {"status": "quarantined"}
    assert client.get(f"/as-of/{story['one']}/packages/{wheel.path}").status_code == 404
    assert client.get(f"/as-of/{story['one']}/pypi/Demo/json").status_code == 404
    root = simple_json(client, f"/as-of/{story['one']}/simple/")
    assert root["projects"] == []


def test_root_lists_the_projects_of_the_moment_with_links_under_it(client, token, story):
    upload(client, token, wheel_upload("later", "1.0"))
    root = simple_json(client, f"/as-of/{story['one']}/simple/")
    assert [p["name"] for p in root["projects"]] == ["Demo"]
    html = client.get(f"/as-of/{story['one']}/simple/").content.decode()
    assert f'href="/as-of/{story["one"]}/simple/demo/"' in html
    assert "later" in client.get(f"/as-of/{now()}/simple/").content.decode()
    assert simple_json(client, f"/as-of/{story['before']}/simple/")["projects"] == []


def test_json_api_at_a_moment(client, story):
    response = client.get(f"/as-of/{story['one']}/pypi/Demo/json")
    assert response.status_code == 200
    body = json.loads(response.content)
    assert body["info"]["version"] == "1.0" and list(body["releases"]) == ["1.0"]
    assert {f["filename"] for f in body["urls"]} == {"demo-1.0-py3-none-any.whl", "demo-1.0.tar.gz"}
    at_yank = json.loads(client.get(f"/as-of/{story['yanked']}/pypi/Demo/1.0/json").content)
    assert at_yank["info"]["yanked"] is True and at_yank["info"]["yanked_reason"] == "broken"
    sdist = next(f for f in at_yank["urls"] if f["packagetype"] == "sdist")
    assert sdist["url"].startswith(f"http://testserver/as-of/{story['yanked']}/packages/")
    later = json.loads(client.get(f"/as-of/{story['unyanked']}/pypi/Demo/json").content)
    assert later["info"]["version"] == "2.0" and later["releases"]["1.0"][0]["yanked"] is False
    assert client.get(f"/as-of/{story['one']}/pypi/Demo/2.0/json").status_code == 404
    assert client.get(f"/as-of/{story['before']}/pypi/Demo/json").status_code == 404
    redirect = client.get(f"/as-of/{story['one']}/pypi/demo/json")
    assert redirect.status_code == 301
    assert redirect["Location"] == f"/as-of/{story['one']}/pypi/Demo/json"


@pytest.mark.parametrize(
    ("moment", "status", "message"),
    [
        ("yesterday", 400, "Not an RFC 3339 UTC timestamp"),
        ("2026-02-30T00:00:00Z", 400, "Not a valid date and time"),
        ("2026-11-01T00:00:00", 400, "Not an RFC 3339 UTC timestamp"),
        ("1969-12-31T23:59:59Z", 400, "no history before 1990-01-01T00:00:00Z"),
        ("9999-12-31T23:59:59Z", 404, "9999-12-31T23:59:59Z is in the future"),
        ("2" * 300, 400, "Not an RFC 3339 UTC timestamp"),
        ("2026-11-01T00:00:00\x00Z", 400, "Not an RFC 3339 UTC timestamp"),
    ],
)
def test_bad_moments_get_a_clear_4xx(client, moment, status, message):
    for url in (f"/as-of/{moment}/simple/", f"/as-of/{moment}/pypi/demo/json"):
        response = client.get(url)
        assert response.status_code == status
        assert message in response.content.decode()
        assert response["Cache-Control"] == "no-store"


def test_other_spellings_of_a_moment_and_a_name_redirect(client, story):
    response = client.get("/as-of/2026-01-01t02:00:00+02:00/simple/Demo/?format=x")
    assert response.status_code == 301
    assert response["Location"] == "/as-of/2026-01-01T00:00:00Z/simple/Demo/?format=x"
    response = client.get("/as-of/2026-01-01T00:00:00.250Z/simple/")
    assert response["Location"] == "/as-of/2026-01-01T00:00:00.250000Z/simple/"
    response = client.get(f"/as-of/{story['one']}/simple/Demo/")
    assert response.status_code == 301
    assert response["Location"] == f"/as-of/{story['one']}/simple/demo/"
    assert client.get(f"/as-of/{story['one']}/simple/nothing/").status_code == 404
    assert client.get(f"/as-of/{story['one']}/simple/-bad-/").status_code == 404


def test_pages_are_cached_and_conditional_like_the_live_ones(client, story):
    url = f"/as-of/{story['one']}/simple/demo/"
    first = client.get(url, HTTP_ACCEPT=JSON)
    assert first["Vary"] == "Accept, Accept-Encoding"
    assert first["Cache-Control"] == "public, max-age=600"
    assert "simple-demo" in first["Surrogate-Key"]
    again = client.get(url, HTTP_ACCEPT=JSON, HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304
    # Another format is another page; a change to the project (even one invisible at the
    # moment) re-renders it, so a purge shows at once.
    assert client.get(url)["ETag"] != first["ETag"]
    delete_file(file=File.objects.get(release__version="2.0"), purge=True)
    assert client.get(url, HTTP_ACCEPT=JSON, HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 200


def test_history_seeded_yanks_count_from_when_they_were_recorded(client, token):
    """A release yanked without history (written directly, as old data was) reads as yanked at
    every moment; the first recorded change tells the state before it."""
    upload(client, token, wheel_upload("demo", "1.0"))
    moment = now()
    Release.objects.update(yanked=True, yanked_reason="old")
    assert simple_json(client, f"/as-of/{moment}/simple/demo/")["files"][0]["yanked"] == "old"
    unyank_release(release=Release.objects.get())
    assert simple_json(client, f"/as-of/{moment}/simple/demo/")["files"][0]["yanked"] is True


def test_kept_bytes_are_no_orphans_and_a_purge_removes_them(
    client, story, django_capture_on_commit_callbacks
):
    from datetime import timedelta

    from packages.maintenance import orphan_keys

    storage = storages["default"]
    sdist = File.all_objects.get(packagetype="sdist")
    assert sdist.path not in set(orphan_keys(storage, min_age=timedelta(0)))
    out = StringIO()
    call_command("verify_storage", stdout=out)
    # The kept file is checked like any other, and its bytes are no orphan.
    assert "3 files checked: 0 with problems" in out.getvalue()
    assert "0 old orphans" in out.getvalue() and "0 young orphans" in out.getvalue()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("purge_deleted", "--older-than-days", "0", stdout=out)
    assert not storage.exists(sdist.path)
    assert "purged 1 deleted file" in out.getvalue()


def test_a_cached_page_costs_one_query_like_a_live_one(client, story, django_assert_num_queries):
    url = f"/as-of/{story['two']}/simple/demo/"
    assert client.get(url).status_code == 200
    with django_assert_num_queries(1):
        assert client.get(url).status_code == 200


def test_staff_find_a_kept_file_in_admin_and_purge_it(
    client, story, django_capture_on_commit_callbacks
):
    from packages import staff
    from tests.packages.test_admin import changelist, make_staff, run_action

    client.force_login(make_staff("boss", staff.ADMINISTRATORS))
    sdist = File.all_objects.get(packagetype="sdist")
    listed = client.get(changelist(File), {"deleted_at__isempty": "0"})
    assert [f.filename for f in listed.context["cl"].result_list] == [sdist.filename]
    with django_capture_on_commit_callbacks(execute=True):
        done = run_action(client, File, "remove", [sdist], reason="malware", confirm="1")
    assert done.status_code == 302
    assert not File.all_objects.filter(pk=sdist.pk).exists()
    assert not storages["default"].exists(sdist.path)
    assert "demo-1.0.tar.gz" not in filenames(
        simple_json(client, f"/as-of/{story['two']}/simple/demo/")
    )
