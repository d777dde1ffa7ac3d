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


def test_delete_file_keeps_object_for_the_history_and_filename_reserved(client, token):
    upload_all(client, token, wheel_upload(), sdist_upload())
    wheel = File.objects.get(packagetype="bdist_wheel")
    delete_file(file=wheel)
    # Off the live index, kept for the point-in-time view (packages/history.py) until purged.
    assert exists(wheel.path) and exists(wheel.metadata_path)
    assert File.objects.count() == 1 and File.all_objects.count() == 2
    assert FilenameRegistry.objects.filter(filename=wheel.filename).exists()
    assert Project.objects.get().total_size == File.objects.get().size
    assert JournalEntry.objects.latest("id").action == f"remove file {wheel.filename}"
    response = post_upload(client, wheel_upload(), token)
    assert response.status_code == 400
    assert "previously used" in response.reason_phrase
    assert File.all_objects.count() == 2


def test_purging_a_file_removes_row_and_object(client, token):
    upload_all(client, token, wheel_upload(), sdist_upload())
    wheel = File.objects.get(packagetype="bdist_wheel")
    delete_file(file=wheel, purge=True)
    assert not exists(wheel.path) and not exists(wheel.metadata_path)
    assert File.all_objects.count() == 1
    assert Project.objects.get().total_size == File.objects.get().size
    assert "previously used" in post_upload(client, wheel_upload(), token).reason_phrase


def test_purging_a_deleted_file_counts_its_size_once(client, token):
    upload_all(client, token, wheel_upload(), sdist_upload())
    wheel = File.objects.get(packagetype="bdist_wheel")
    delete_file(file=wheel)
    delete_file(file=File.all_objects.get(pk=wheel.pk), purge=True)
    assert Project.objects.get().total_size == File.objects.get().size


def test_delete_release_and_project(client, token):
    upload_all(client, token, wheel_upload("demo", "1.0"), wheel_upload("demo", "2.0"))
    paths = list(File.objects.order_by("release__version").values_list("path", flat=True))
    delete_release(release=Release.objects.get(version="1.0"))
    assert list(Release.objects.values_list("version", flat=True)) == ["2.0"]
    assert Project.objects.get().total_size == File.objects.get().size
    assert exists(paths[0]) and exists(paths[1])
    delete_project(project=Project.objects.get())
    assert not Project.objects.exists() and not File.objects.exists()
    assert exists(paths[1])
    assert JournalEntry.objects.latest("id").action == "remove project"
    assert FilenameRegistry.objects.count() == 2
    # The name is free again: a new project, beside the deleted one's kept rows.
    upload_all(client, token, wheel_upload("demo", "3.0"))
    assert Project.objects.get().pk != Project.all_objects.exclude(deleted_at=None).get().pk


def test_purging_a_release_and_a_project_removes_rows_and_objects(client, token):
    upload_all(client, token, wheel_upload("demo", "1.0"), wheel_upload("demo", "2.0"))
    paths = list(File.objects.order_by("release__version").values_list("path", flat=True))
    delete_release(release=Release.objects.get(version="1.0"), purge=True)
    assert not exists(paths[0]) and exists(paths[1])
    assert list(Release.all_objects.values_list("version", flat=True)) == ["2.0"]
    delete_project(project=Project.objects.get(), purge=True)
    assert not Project.all_objects.exists() and not File.all_objects.exists()
    assert not exists(paths[1])
    assert FilenameRegistry.objects.count() == 2


def test_deleting_an_organizations_project_leaves_no_rights_and_frees_the_organization(
    client, token
):
    from organizations.models import Organization
    from packages.models import TeamProjectRole
    from tests.factories import make_organization, make_team

    upload_all(client, token, wheel_upload("demo", "1.0"))
    organization = make_organization()
    project = Project.objects.get()
    Project.objects.filter(pk=project.pk).update(organization=organization)
    TeamProjectRole.objects.create(
        team=make_team(organization), project=project, role_name="Maintainer"
    )
    delete_project(project=Project.objects.get())
    kept = Project.all_objects.get(pk=project.pk)
    assert kept.deleted_at is not None and kept.organization is None
    assert not TeamProjectRole.objects.exists()
    organization.delete()  # No kept row protects it.
    assert not Organization.objects.exists()
