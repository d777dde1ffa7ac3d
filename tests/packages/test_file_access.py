"""Quarantine and removal reach the bytes: /packages/<key> serves only a live File of a project
the requester may see, and what it refuses is never cached as immutable."""

from __future__ import annotations

import pytest
from django.core.files.storage import storages

from packages import moderation, releases
from packages.models import File, Project, Release, Role
from tests.factories import make_token, make_user, post_upload, sdist_upload, wheel_upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner(client, django_capture_on_commit_callbacks):
    """alice owns demo 1.0 (a wheel, with its PEP 658 metadata, and an sdist)."""
    user = make_user("alice")
    token = make_token(user)
    with django_capture_on_commit_callbacks(execute=True):
        for upload in (wheel_upload("demo", "1.0"), sdist_upload("demo", "1.0")):
            assert post_upload(client, upload, token).status_code == 200
    return user


def wheel_urls() -> list[str]:
    wheel = File.objects.get(packagetype="bdist_wheel")
    return [f"/packages/{wheel.path}", f"/packages/{wheel.metadata_path}"]


def all_urls() -> list[str]:
    sdist = File.objects.get(packagetype="sdist")
    return [*wheel_urls(), f"/packages/{sdist.path}"]


def assert_gone(client, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 404, url
    assert response["Cache-Control"] == "no-store", url


def assert_served(client, url: str, *, cache_control: str) -> None:
    response = client.get(url)
    assert response.status_code == 200, url
    assert response["Cache-Control"] == cache_control, url


def test_public_file_costs_one_query(client, owner, django_assert_num_queries):
    for url in all_urls():
        with django_assert_num_queries(1):
            assert_served(client, url, cache_control="public, max-age=31536000, immutable")


def test_quarantined_files_are_404_for_anonymous_and_other_users(client, owner):
    urls = all_urls()
    moderation.quarantine_project(project=Project.objects.get(), reason="malware")
    for url in urls:
        assert_gone(client, url)
    client.force_login(make_user("mallory"))
    for url in urls:
        assert_gone(client, url)


def test_quarantined_files_stay_private_for_members_and_staff(client, owner):
    urls = all_urls()
    project = Project.objects.get()
    moderation.quarantine_project(project=project, reason="malware")
    maintainer = make_user("bob")
    Role.objects.create(user=maintainer, project=project, role_name="Maintainer")
    staff = make_user("carol", is_staff=True)
    for user in (owner, maintainer, staff):
        client.force_login(user)
        for url in urls:
            assert_served(client, url, cache_control="private, no-store")


def test_lifting_the_quarantine_serves_files_to_everyone_again(client, owner):
    urls = all_urls()
    project = Project.objects.get()
    moderation.quarantine_project(project=project, reason="malware")
    moderation.clear_quarantine(project=project, reason="false positive")
    for url in urls:
        assert_served(client, url, cache_control="public, max-age=31536000, immutable")


def test_frozen_member_cannot_download_quarantined_files(client, owner):
    project = Project.objects.get()
    moderation.quarantine_project(project=project, reason="malware", freeze_users=True)
    client.force_login(owner)
    for url in wheel_urls():
        assert_gone(client, url)


@pytest.mark.parametrize(
    "remove",
    [
        lambda: releases.delete_file(file=File.objects.get(packagetype="bdist_wheel")),
        lambda: releases.delete_release(release=Release.objects.get()),
        lambda: releases.delete_project(project=Project.objects.get()),
        lambda: moderation.remove_project(project=Project.objects.get(), reason="spam"),
    ],
    ids=["file", "release", "project", "staff-removal"],
)
def test_removed_files_are_404_even_while_still_stored(client, owner, remove):
    urls = wheel_urls()
    wheel = File.objects.get(packagetype="bdist_wheel")
    remove()  # Without running on-commit callbacks: the stored objects linger.
    assert storages["default"].exists(wheel.path)
    assert storages["default"].exists(wheel.metadata_path)
    client.force_login(owner)
    for url in urls:
        assert_gone(client, url)


def test_sdist_metadata_and_unknown_keys_are_not_found(client, owner):
    sdist = File.objects.get(packagetype="sdist")
    assert_gone(client, f"/packages/{sdist.path}.metadata")
    assert_gone(client, f"/packages/{sdist.path[:-3]}zip")
    assert_gone(client, f"/packages/{sdist.path}%00")


def test_object_storage_redirects_only_after_the_same_check(client, owner, settings):
    urls = all_urls()
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.InMemoryStorage",
            "OPTIONS": {"base_url": "https://files.example.test/"},
        },
    }
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302
        assert (
            response["Location"] == f"https://files.example.test/{url.removeprefix('/packages/')}"
        )
    project = Project.objects.get()
    moderation.quarantine_project(project=project, reason="malware")
    for url in urls:
        assert_gone(client, url)
    client.force_login(owner)
    response = client.get(urls[0])
    assert response.status_code == 302
    assert response["Cache-Control"] == "private, no-store"
