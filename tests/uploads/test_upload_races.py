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
