from __future__ import annotations

import pytest
from django.core.files.storage import storages

from packages.models import File, FilenameRegistry, JournalEntry, Project, Release
from packages.releases import delete_file, delete_project, delete_release
from tests.factories import make_token, make_user, post_upload, sdist_upload, wheel_upload

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def token():
    return make_token(make_user())


def upload_all(client, token, *uploads) -> None:
    for upload in uploads:
        assert post_upload(client, upload, token).status_code == 200


def exists(key: str) -> bool:
    return storages["default"].exists(key)


def test_delete_file_removes_object_and_keeps_filename_reserved(client, token):
    upload_all(client, token, wheel_upload(), sdist_upload())
    wheel = File.objects.get(packagetype="bdist_wheel")
    delete_file(file=wheel)
    assert not exists(wheel.path) and not exists(wheel.metadata_path)
    assert File.objects.count() == 1
    assert FilenameRegistry.objects.filter(filename=wheel.filename).exists()
    assert Project.objects.get().total_size == File.objects.get().size
    assert JournalEntry.objects.latest("id").action == f"remove file {wheel.filename}"
    response = post_upload(client, wheel_upload(), token)
    assert response.status_code == 400
    assert "previously used" in response.reason_phrase


def test_delete_release_and_project(client, token):
    upload_all(client, token, wheel_upload("demo", "1.0"), wheel_upload("demo", "2.0"))
    paths = list(File.objects.order_by("release__version").values_list("path", flat=True))
    delete_release(release=Release.objects.get(version="1.0"))
    assert list(Release.objects.values_list("version", flat=True)) == ["2.0"]
    assert not exists(paths[0]) and exists(paths[1])
    delete_project(project=Project.objects.get())
    assert not Project.objects.exists() and not File.objects.exists()
    assert not exists(paths[1])
    assert JournalEntry.objects.latest("id").action == "remove project"
    assert FilenameRegistry.objects.count() == 2
