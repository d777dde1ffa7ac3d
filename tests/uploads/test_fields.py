"""Form fields at and past what the database stores, NUL bytes, oversized requests and the
/legacy address without its slash: a clear 400 (or 308) on SQLite and PostgreSQL alike."""

from __future__ import annotations

import pytest
from django.test import Client

from packages.models import File, Release
from tests.factories import basic_auth, make_token, make_user, post_upload, wheel_upload
from tests.uploads.test_upload import assert_nothing_stored, assert_refused

pytestmark = pytest.mark.django_db

SPEC = "See https://packaging.python.org/specifications/core-metadata for more information."


@pytest.fixture
def token():
    return make_token(make_user("alice"))


def long_name(length: int) -> str:
    return "a" * length


def long_version(length: int) -> str:
    return "1" + ".0" * ((length - 1) // 2)


@pytest.mark.parametrize(
    ("name", "fields", "message"),
    [
        (
            long_name(201),
            {},
            f"'{'a' * 80}...' is an invalid value for Name. Error: Must be 200 characters or "
            f"less. {SPEC}",
        ),
        (
            "demo",
            {"version": long_version(101)},
            f"'version' field must be 100 characters or less. {SPEC}",
        ),
        (
            "demo",
            {"pyversion": "p" * 51},
            "is an invalid value for Pyversion. Error: Must be 50 characters or less.",
        ),
        (
            "demo",
            {"description_content_type": "text/plain; charset=utf-8; x=" + "a" * 200},
            "'description-content-type' field must be 200 characters or less.",
        ),
        (
            "demo",
            {"requires_python": ",".join(f">=3.{i}" for i in range(60))},
            "'requires-python' field must be 200 characters or less.",
        ),
    ],
    ids=["name", "version", "pyversion", "description_content_type", "requires_python"],
)
def test_field_longer_than_its_column_is_refused(client, token, name, fields, message):
    version = fields.get("version", "1.0")
    upload = wheel_upload(name, version, fields=fields)
    response = post_upload(client, upload, token)
    assert_refused(response, 400, message)
    assert_nothing_stored()


def test_fields_at_their_column_length_are_stored(client, token):
    # The filename holds both, and is itself limited to 255 characters: one upload each.
    name, version = long_name(200), long_version(99)
    upload = wheel_upload(name, "1.0", fields={"pyversion": "p" * 50, "summary": "s" * 512})
    assert post_upload(client, upload, token).status_code == 200
    assert post_upload(client, wheel_upload("demo", version), token).status_code == 200
    assert set(Release.objects.values_list("project__name", "version", "summary")) == {
        (name, "1.0", "s" * 512),
        ("demo", version, ""),
    }
    assert File.objects.get(release__version="1.0").python_version == "p" * 50


def test_nul_bytes_are_escaped_in_every_stored_field(client, token):
    fields = {
        "summary": "sum\x00mary",
        "keywords": "a\x00b,c",
        "author": "Al\x00ice",
        "comment": "com\x00ment",
        "project_urls": ["Ho\x00me, https://example.com/\x00path", "Docs, https://example.com/"],
        "classifiers": "Programming Language :: Python :: 3",
    }
    response = post_upload(client, wheel_upload(fields=fields), token)
    assert response.status_code == 200, response.content
    release = Release.objects.get()
    assert release.summary == "sum\\x00mary"
    assert release.keywords == "a\\x00b,c"
    assert release.author == "Al\\x00ice"
    assert release.project_urls == {
        "Ho\\x00me": "https://example.com/\\x00path",
        "Docs": "https://example.com/",
    }
    assert File.objects.get().comment_text == "com\\x00ment"


def test_refused_huge_value_is_cut_short_in_the_status_line(client, token):
    value = ">=1.0" + "x" * 5000
    response = post_upload(client, wheel_upload(fields={"requires_python": value}), token)
    assert response.status_code == 400
    assert len(response.reason_phrase) == 1000
    assert response.reason_phrase.startswith(f"'{value[:900]}")
    assert response.reason_phrase.endswith("...")
    assert f"'{value}' is invalid for 'requires-python'" in response.content.decode()


def test_version_too_long_to_parse_gets_a_400_not_a_500(client, token):
    response = post_upload(client, wheel_upload(fields={"version": "1" * 200_000}), token)
    assert_refused(response, 400, "'version' field must be 100 characters or less.")
    assert_nothing_stored()


def test_description_over_the_request_bound_gets_a_clear_400(client, token, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    upload = wheel_upload(fields={"description": "x" * 20_000})
    response = post_upload(client, upload, token)
    assert_refused(
        response,
        400,
        "Upload request too large: the form fields besides the file exceed 10000 bytes",
    )
    assert_nothing_stored(project_exists=False)


def test_too_many_classifiers_get_a_clear_400(client, token, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 50
    classifiers = ["Programming Language :: Python :: 3"] * 100
    response = post_upload(client, wheel_upload(fields={"classifiers": classifiers}), token)
    assert_refused(response, 400, "Upload request has too many form fields: the limit is 50.")
    assert_nothing_stored()


def test_upload_to_legacy_without_slash_is_the_upload_despite_csrf(token):
    """twine refuses redirects of an upload, so /legacy must take the POST itself."""
    client = Client(enforce_csrf_checks=True)
    response = post_upload_to(client, "/legacy", wheel_upload(), token)
    assert response.status_code == 200, response.content
    assert File.objects.get().filename == "demo-1.0-py3-none-any.whl"
    response = client.get("/legacy?x=1")
    assert response.status_code == 308
    assert response["Location"] == "http://testserver/legacy/?x=1"


def post_upload_to(client: Client, path: str, upload, token: str):
    return client.post(path, upload.data(), HTTP_AUTHORIZATION=basic_auth(token))
