"""Each kind of refusal is counted under its own short reason code (the refused-uploads metric,
as the public index tags `upload.failed`), and accepted uploads are counted apart."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from tests.dists import make_wheel
from tests.factories import (
    UploadRequest,
    basic_auth,
    make_token,
    make_user,
    post_upload,
    wheel_upload,
)

pytestmark = pytest.mark.django_db


def refused(reason: str) -> float:
    return REGISTRY.get_sample_value("pypi_uploads_refused_total", {"reason": reason}) or 0.0


def accepted(new: str) -> float:
    return REGISTRY.get_sample_value("pypi_uploads_accepted_total", {"new": new}) or 0.0


@pytest.fixture
def token():
    return make_token(make_user("alice"))


def assert_counted(response, *, status: int, reason: str, before: float) -> None:
    assert response.status_code == status, response.content
    assert refused(reason) == before + 1


def test_accepted_uploads_are_counted_new_and_identical(client, token):
    new, again = accepted("true"), accepted("false")
    upload = wheel_upload()
    assert post_upload(client, upload, token).status_code == 200
    assert post_upload(client, upload, token).status_code == 200
    assert (accepted("true"), accepted("false")) == (new + 1, again + 1)


def test_bad_token(client):
    before = refused("invalid-token")
    response = post_upload(client, wheel_upload(), "pypi-not-a-token")
    assert_counted(response, status=403, reason="invalid-token", before=before)


def test_password_instead_of_token(client):
    before = refused("password-auth")
    response = client.post(
        "/legacy/", wheel_upload().data(), HTTP_AUTHORIZATION=basic_auth("pw", username="alice")
    )
    assert_counted(response, status=403, reason="password-auth", before=before)


def test_different_file_under_a_used_name(client, token):
    assert post_upload(client, wheel_upload(), token).status_code == 200
    before = refused("file-exists")
    other = wheel_upload(extra_files={"demo/extra.py": b"x = 2\n"})
    response = post_upload(client, other, token)
    assert_counted(response, status=400, reason="file-exists", before=before)


def test_no_role_on_the_project(client, token):
    assert post_upload(client, wheel_upload("demo", "1.0"), token).status_code == 200
    before = refused("permission-denied")
    response = post_upload(client, wheel_upload("demo", "2.0"), make_token(make_user("mallory")))
    assert_counted(response, status=403, reason="permission-denied", before=before)


def test_metadata_and_form_errors_are_told_apart(client, token):
    before_metadata, before_form = refused("invalid-metadata"), refused("invalid-form-data")
    bad_metadata = wheel_upload(fields={"metadata_version": "9.9"})
    bad_form = wheel_upload(fields={"filetype": "bdist_egg_of_doom"})
    assert post_upload(client, bad_metadata, token).status_code == 400
    assert post_upload(client, bad_form, token).status_code == 400
    assert refused("invalid-metadata") == before_metadata + 1
    assert refused("invalid-form-data") == before_form + 1


def test_size_limits(client, token, settings):
    settings.DEFAULT_UPLOAD_LIMIT = 100
    before = refused("file-too-large")
    response = post_upload(client, wheel_upload(), token)
    assert_counted(response, status=400, reason="file-too-large", before=before)


def test_an_archive_that_is_not_what_it_claims(client, token, settings):
    settings.ACCEPT_LEGACY_FILENAMES = True
    before = refused("invalid-archive")
    # A wheel's bytes named as a .zip sdist: no single top-level directory, no PKG-INFO.
    _name, body = make_wheel()
    zipped = UploadRequest(
        filename="demo-1.0.zip", content=body, filetype="sdist", pyversion="source"
    )
    response = post_upload(client, zipped, token)
    assert_counted(response, status=400, reason="invalid-archive", before=before)


def test_unknown_action(client, token):
    before = refused("unknown-action")
    response = post_upload(client, wheel_upload(fields={":action": "dance"}), token)
    assert_counted(response, status=400, reason="unknown-action", before=before)


def test_an_unexpected_error_is_counted_too(client, token, monkeypatch):
    def broken_add_file(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr("uploads.service.add_file", broken_add_file)
    client.raise_request_exception = False
    before = refused("unhandled-error")
    response = post_upload(client, wheel_upload(), token)
    assert_counted(response, status=500, reason="unhandled-error", before=before)


def test_reason_codes_are_short_and_few(client, token):
    """Label values are codes, never messages (which quote names and hashes)."""
    post_upload(client, wheel_upload(fields={"metadata_version": "9.9"}), token)
    reasons = {
        sample.labels["reason"]
        for family in REGISTRY.collect()
        if family.name == "pypi_uploads_refused"
        for sample in family.samples
        if "reason" in sample.labels
    }
    assert "invalid-metadata" in reasons
    assert all(len(reason) <= 32 and " " not in reason for reason in reasons)
