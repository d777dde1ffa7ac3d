"""Two identical uploads share one stored object; neither may leave the other's row pointing
at nothing."""

from __future__ import annotations

import hashlib

import pytest
from django.core.files.storage import storages

from packages.models import File
from tests.factories import make_token, make_user, post_upload, wheel_upload
from uploads import service

pytestmark = pytest.mark.django_db


def test_an_object_removed_after_it_was_reused_is_written_again(client, monkeypatch):
    """This upload found the object an identical upload wrote; that upload then failed and
    removed it before this one inserted its row."""
    real_store = service._store_objects

    def reuse_then_lose(**kwargs):
        real_store(**kwargs)
        for key in (kwargs["path"], f"{kwargs['path']}.metadata"):
            storages["default"].delete(key)
        return []  # Nothing of its own: it reused what was there.

    monkeypatch.setattr(service, "_store_objects", reuse_then_lose)
    upload = wheel_upload("demo", "1.0")

    response = post_upload(client, upload, make_token(make_user()))

    assert response.status_code == 200, response.content
    file = File.objects.get()
    served = b"".join(client.get(f"/packages/{file.path}").streaming_content)
    assert hashlib.sha256(served).hexdigest() == file.sha256_digest
    assert storages["default"].exists(f"{file.path}.metadata")


def test_a_failed_upload_keeps_an_object_a_committed_row_uses(client):
    token = make_token(make_user())
    upload = wheel_upload("demo", "1.0")
    assert post_upload(client, upload, token).status_code == 200
    file = File.objects.get()

    service._delete_unreferenced([file.path, f"{file.path}.metadata"])

    assert storages["default"].exists(file.path)
    assert storages["default"].exists(f"{file.path}.metadata")


def test_a_file_uploaded_between_the_checks_and_the_rows_is_answered_as_the_checks_would(
    client, monkeypatch
):
    """The locked phase trusts the checks made before it; an identical upload that committed
    in between breaks a unique constraint, and the retry answers 200 for the same bytes (as
    check 15 does) with one row and one object."""
    token = make_token(make_user())
    upload = wheel_upload("demo", "1.0")
    real_store = service._store_objects
    raced = []

    def store_then_race(**kwargs):
        stored = real_store(**kwargs)
        if not raced:
            raced.append("racing")  # The racing upload's own call passes through.
            raced.append(post_upload(client, upload, token).status_code)
        return stored

    real_insert, attempts = service._insert_rows, []

    def recording_insert(**kwargs):
        attempts.append(kwargs["recheck_file"])
        return real_insert(**kwargs)

    monkeypatch.setattr(service, "_store_objects", store_then_race)
    monkeypatch.setattr(service, "_insert_rows", recording_insert)
    response = post_upload(client, upload, token)

    assert raced == ["racing", 200]
    # The racer's one attempt, then ours: refused by the constraint, then checked again.
    assert attempts == [False, False, True]
    assert response.status_code == 200, response.content
    file = File.objects.get()
    assert storages["default"].exists(file.path)
    assert storages["default"].exists(f"{file.path}.metadata")


def test_a_filename_deleted_between_the_checks_and_the_rows_is_refused_as_reused(
    client, monkeypatch
):
    from packages.models import FilenameRegistry

    token = make_token(make_user())
    upload = wheel_upload("demo", "1.0")
    real_store = service._store_objects

    def store_then_register(**kwargs):
        stored = real_store(**kwargs)
        FilenameRegistry.objects.create(filename=upload.filename)
        return stored

    monkeypatch.setattr(service, "_store_objects", store_then_register)
    response = post_upload(client, upload, token)

    assert response.status_code == 400
    assert b"previously used by a file that has since been deleted" in response.content
    assert not File.all_objects.exists()
    assert not storages["default"].listdir("")[1]  # No object left behind.
