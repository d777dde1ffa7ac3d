from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import pytest
from django.core.files.storage import storages

from packages.models import File, FilenameRegistry, JournalEntry, Project, Release, Role
from tests.dists import metadata_text
from tests.factories import (
    UploadRequest,
    basic_auth,
    make_token,
    make_user,
    post_upload,
    sdist_upload,
    wheel_upload,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def user():
    return make_user("alice")


@pytest.fixture
def token(user):
    return make_token(user)


def stored_files() -> list[str]:
    root = Path(storages["default"].location)
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def assert_refused(response, status: int, message: str) -> None:
    """The message is in the status line (twine shows only that) and in the body."""
    body = response.content.decode()
    assert response.status_code == status, body
    assert message in response.reason_phrase, response.reason_phrase
    assert message in body


def assert_nothing_stored(*, project_exists: bool = False) -> None:
    assert File.objects.count() == 0
    assert Release.objects.count() == 0
    assert Project.objects.exists() == project_exists
    assert stored_files() == []


def test_first_upload_creates_project_with_uploader_as_owner(client, user, token):
    upload = wheel_upload("Demo.Pkg", "1.0")
    response = post_upload(client, upload, token)

    assert response.status_code == 200, response.content
    project = Project.objects.get()
    assert (project.name, project.normalized_name) == ("Demo.Pkg", "demo-pkg")
    assert Role.objects.get().role_name == "Owner"
    file = File.objects.get()
    assert file.filename == "demo_pkg-1.0-py3-none-any.whl"
    assert file.sha256_digest == hashlib.sha256(upload.content).hexdigest()
    assert file.size == len(upload.content)
    blake2 = hashlib.blake2b(upload.content, digest_size=32).hexdigest()
    assert file.path == f"{blake2[:2]}/{blake2[2:4]}/{blake2[4:]}/{file.filename}"
    assert stored_files() == [file.path, f"{file.path}.metadata"]
    metadata = storages["default"].open(f"{file.path}.metadata").read()
    assert file.metadata_sha256 == hashlib.sha256(metadata).hexdigest()
    assert FilenameRegistry.objects.filter(filename=file.filename).exists()
    actions = list(JournalEntry.objects.order_by("id").values_list("action", flat=True))
    assert actions == ["create", "add Owner alice", "new release", f"add py3 file {file.filename}"]
    project.refresh_from_db()
    assert project.last_serial == JournalEntry.objects.latest("id").id
    assert project.total_size == file.size


def test_sdist_upload_stores_no_metadata_file(client, token):
    response = post_upload(client, sdist_upload("demo", "1.0"), token)
    assert response.status_code == 200, response.content
    file = File.objects.get()
    assert file.metadata_sha256 == ""
    assert stored_files() == [file.path]


def test_identical_reupload_is_ok_and_changes_nothing(client, token):
    upload = wheel_upload()
    assert post_upload(client, upload, token).status_code == 200
    serial = JournalEntry.objects.latest("id").id
    response = post_upload(client, upload, token)
    assert response.status_code == 200
    assert File.objects.count() == 1
    assert JournalEntry.objects.latest("id").id == serial


def test_upload_rejects_different_file_under_used_name(client, token):
    assert post_upload(client, wheel_upload(), token).status_code == 200
    other = wheel_upload(extra_files={"demo/extra.py": b"x = 2\n"})
    response = post_upload(client, other, token)
    assert_refused(response, 400, "File already exists ('demo-1.0-py3-none-any.whl'")
    assert File.objects.count() == 1
    assert len(stored_files()) == 2


def test_upload_rejects_reused_filename_after_deletion(client, token):
    assert post_upload(client, wheel_upload(), token).status_code == 200
    file = File.objects.get()
    storages["default"].delete(file.path)
    storages["default"].delete(file.metadata_path)
    file.delete()
    other = wheel_upload(extra_files={"demo/extra.py": b"x = 2\n"})
    response = post_upload(client, other, token)
    assert_refused(response, 400, "This filename was previously used by a file that has since")
    assert File.objects.count() == 0
    assert stored_files() == []


def test_password_auth_is_refused(client, user):
    response = client.post(
        "/legacy/", wheel_upload().data(), HTTP_AUTHORIZATION=basic_auth("pw", username="alice")
    )
    assert_refused(response, 403, "Username/Password authentication is no longer supported.")
    assert_nothing_stored()


@pytest.mark.parametrize("header", [None, basic_auth("pypi-nothere.secret"), "Bearer junk"])
def test_missing_or_unknown_token_is_refused(client, header):
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    response = client.post("/legacy/", wheel_upload().data(), **extra)
    assert_refused(response, 403, "Invalid or non-existent authentication information.")
    assert_nothing_stored()


def test_token_with_wrong_secret_is_refused(client, token):
    response = post_upload(client, wheel_upload(), token[:-4] + "AAAA")
    assert_refused(response, 403, "Invalid or non-existent authentication information.")


def test_token_of_inactive_user_is_refused(client, user, token):
    user.is_active = False
    user.save()
    response = post_upload(client, wheel_upload(), token)
    assert_refused(response, 403, "Invalid or non-existent authentication information.")
    assert_nothing_stored()


def test_other_user_cannot_upload_to_project(client, token):
    assert post_upload(client, wheel_upload("demo", "1.0"), token).status_code == 200
    mallory = make_token(make_user("mallory"))
    response = post_upload(client, wheel_upload("demo", "2.0"), mallory)
    assert_refused(response, 403, "The user 'mallory' isn't allowed to upload to project 'demo'.")
    assert Release.objects.count() == 1


def test_maintainer_can_upload(client, token):
    assert post_upload(client, wheel_upload("demo", "1.0"), token).status_code == 200
    bob = make_user("bob")
    Role.objects.create(user=bob, project=Project.objects.get(), role_name="Maintainer")
    assert post_upload(client, wheel_upload("demo", "2.0"), make_token(bob)).status_code == 200


def test_scoped_token_only_uploads_to_its_project(client, user, token):
    assert post_upload(client, wheel_upload("demo", "1.0"), token).status_code == 200
    assert post_upload(client, wheel_upload("other", "1.0"), token).status_code == 200
    scoped = make_token(user, projects=[Project.objects.get(normalized_name="demo")])
    assert post_upload(client, wheel_upload("demo", "2.0"), scoped).status_code == 200
    response = post_upload(client, wheel_upload("other", "2.0"), scoped)
    assert_refused(response, 403, "project-scoped token is not valid for project: 'other'")
    response = post_upload(client, wheel_upload("brand-new", "1.0"), scoped)
    assert_refused(response, 403, "project-scoped token cannot create new projects")
    assert not Project.objects.filter(normalized_name="brand-new").exists()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"protocol_version": "2"}, "Unknown protocol version."),
        ({"name": "foo-"}, "'foo-' is an invalid value for Name."),
        ({"filetype": "bdist_egg"}, "Invalid value for filetype. Error: Use a known file type."),
        ({"pyversion": ""}, "Python version is required for binary distribution uploads."),
        ({"metadata_version": "9.9"}, "'9.9' is not a valid metadata version"),
        ({"version": "dog"}, "'dog' is invalid for 'version'"),
        ({"version": "1.0+local"}, "The use of local versions in '1.0+local' is not allowed."),
        ({"summary": "x" * 513}, "'summary' field must be 512 characters or less."),
        ({"classifiers": "Not :: A :: Classifier"}, "is not a valid classifier."),
        (
            {"requires_dist": "foo @ https://example.invalid/foo.whl"},
            "Can't have direct dependency",
        ),
        ({"sha256_digest": "zz"}, "Use a valid, hex-encoded, SHA256 message digest."),
        ({"sha256_digest": "0" * 64}, "The digest supplied does not match a digest calculated"),
        (
            {
                "description": "=====\nBad\n==\n\n.. unknown-directive::",
                "description_content_type": "text/x-rst",
            },
            "The description failed to render for 'text/x-rst'.",
        ),
    ],
)
def test_form_and_metadata_errors(client, token, fields, message):
    response = post_upload(client, wheel_upload(fields=fields), token)
    assert_refused(response, 400, message)
    assert_nothing_stored()


def test_sdist_with_wrong_pyversion_is_refused(client, token):
    response = post_upload(client, sdist_upload(pyversion="py3"), token)
    assert_refused(response, 400, "Use 'source' as Python version for an sdist.")


def test_upload_without_digest_is_refused(client, token):
    response = post_upload(client, wheel_upload(digests=False), token)
    assert_refused(response, 400, "Error: Include at least one message digest.")
    assert_nothing_stored()


def test_upload_without_file_is_refused(client, token):
    data = wheel_upload().data()
    del data["content"]
    response = client.post("/legacy/", data, HTTP_AUTHORIZATION=basic_auth(token))
    assert_refused(response, 400, "Upload payload does not have a file.")
    assert_nothing_stored()


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (wheel_upload(filename="demo-1.0-py3-none-any.exe"), "Invalid file extension: Use .tar.gz"),
        (sdist_upload(filename="demo-1.0.whl"), "Extension .whl is invalid for filetype sdist"),
        (wheel_upload(filename="demo\x01-1.0-py3-none-any.whl"), "non-printable characters"),
        (wheel_upload(content_type="image/png"), "Invalid distribution file."),
        (wheel_upload(filename="other-1.0-py3-none-any.whl"), "Start filename for 'demo'"),
        (
            wheel_upload(filename="demo-2.0-py3-none-any.whl"),
            "Version in filename should be '1.0' not '2.0'.",
        ),
        (
            wheel_upload(filename="demo-1.0-py3-none-weird_os.whl"),
            "has an unsupported platform tag 'weird_os'",
        ),
        (wheel_upload(filename="demo-1.0.whl"), "Invalid wheel filename"),
        (wheel_upload(omit=("RECORD",)), "does not contain the required RECORD file"),
        (wheel_upload(omit=("METADATA",)), "does not contain the required METADATA file"),
        (wheel_upload(omit=("WHEEL",)), "WHEEL not found at demo-1.0.dist-info/WHEEL"),
        (
            wheel_upload(compression=zipfile.ZIP_BZIP2),
            "File does not use a supported compression type",
        ),
        (
            wheel_upload(metadata="Metadata-Version: 2.1\nName: evil\nVersion: 1.0\n"),
            "The METADATA in 'demo-1.0-py3-none-any.whl' is for evil 1.0",
        ),
        (
            sdist_upload(filename="Demo-1.0.tar.gz"),
            "Filename 'Demo-1.0.tar.gz' is invalid, should be 'demo-1.0.tar.gz'.",
        ),
        (sdist_upload(filename="demo-1.0.zip"), "Invalid distribution file. File is not a zipfile"),
        (sdist_upload(with_pkg_info=False), "PKG-INFO not found at demo-1.0/PKG-INFO"),
    ],
    ids=lambda value: value if isinstance(value, str) else value.filename,
)
def test_file_errors(client, token, upload: UploadRequest, message):
    response = post_upload(client, upload, token)
    assert_refused(response, 400, message)
    assert_nothing_stored()


def test_wheel_with_unnormalized_name_is_refused(client, token):
    upload = wheel_upload("Demo_Pkg", "1.0", filename="Demo_Pkg-1.0-py3-none-any.whl")
    response = post_upload(client, upload, token)
    assert_refused(
        response,
        400,
        "Filename 'Demo_Pkg-1.0-py3-none-any.whl' should contain the normalized project name "
        "'demo_pkg', not 'Demo_Pkg'.",
    )


def test_legacy_filenames_accepted_when_enabled(client, token, settings):
    settings.ACCEPT_LEGACY_FILENAMES = True
    sdist = sdist_upload("MarkupSafe", "2.1.5", filename="MarkupSafe-2.1.5.tar.gz")
    assert post_upload(client, sdist, token).status_code == 200
    wheel = wheel_upload("MarkupSafe", "2.1.5", filename="MarkupSafe-2.1.5-py3-none-any.whl")
    response = post_upload(client, wheel, token)
    assert response.status_code == 200, response.content
    assert File.objects.count() == 2


def test_only_one_sdist_per_release(client, token, settings):
    settings.ACCEPT_LEGACY_FILENAMES = True
    assert post_upload(client, sdist_upload(), token).status_code == 200
    # A well-formed .zip sdist of the same release (legacy names allowed) is a second sdist.
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("demo-1.0/PKG-INFO", metadata_text("demo", "1.0"))
        archive.writestr("demo-1.0/setup.py", "from setuptools import setup\nsetup()\n")
    zipped = UploadRequest(
        filename="demo-1.0.zip", content=buffer.getvalue(), filetype="sdist", pyversion="source"
    )
    response = post_upload(client, zipped, token)
    assert_refused(response, 400, "Only one sdist may be uploaded per release.")
    assert File.objects.count() == 1


def test_file_over_project_limit_is_refused(client, token, settings):
    settings.DEFAULT_UPLOAD_LIMIT = 100
    response = post_upload(client, wheel_upload(), token)
    assert_refused(response, 400, "File too large. Limit for project 'demo' is 100 bytes.")
    assert_nothing_stored()


def test_file_over_hard_cap_is_cut_off_while_streaming(client, token, settings):
    settings.MAX_UPLOAD_LIMIT = 200
    response = post_upload(client, wheel_upload(), token)
    assert_refused(response, 400, "File too large.")
    assert_nothing_stored()


def test_project_total_size_limit(client, token, settings):
    assert post_upload(client, wheel_upload("demo", "1.0"), token).status_code == 200
    project = Project.objects.get()
    project.total_size_limit = project.total_size + 10
    project.save()
    response = post_upload(client, wheel_upload("demo", "2.0"), token)
    assert_refused(response, 400, "Project size too large. Limit for project 'demo' total size")
    assert File.objects.count() == 1


def test_storage_failure_leaves_no_rows(client, token, monkeypatch):
    """If the database write fails after the file was stored, the stored object goes too."""
    import packages.releases

    def broken_add_file(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr("uploads.service.add_file", broken_add_file)
    assert packages.releases.add_file is not broken_add_file
    client.raise_request_exception = False
    response = post_upload(client, wheel_upload(), token)
    assert response.status_code == 500
    assert_nothing_stored()


def test_new_release_order_follows_pep440(client, token):
    for version in ["1.0", "10.0", "2.0rc1", "2.0"]:
        assert post_upload(client, wheel_upload("demo", version), token).status_code == 200
    ordered = list(Release.objects.order_by("sort_order").values_list("version", flat=True))
    assert ordered == ["1.0", "2.0rc1", "2.0", "10.0"]
    assert Release.objects.get(version="2.0rc1").is_prerelease


def test_display_name_follows_latest_upload(client, token):
    assert post_upload(client, wheel_upload("demo_pkg", "1.0"), token).status_code == 200
    assert post_upload(client, wheel_upload("Demo.Pkg", "2.0"), token).status_code == 200
    assert Project.objects.get().name == "Demo.Pkg"


def test_legacy_submit_action_is_gone(client, token):
    data = {":action": "submit", "name": "demo"}
    response = client.post("/legacy/", data, HTTP_AUTHORIZATION=basic_auth(token))
    assert_refused(response, 410, "Project pre-registration is no longer required or supported")


def test_get_shows_landing_and_no_slash_redirects(client):
    assert client.get("/legacy/").status_code == 200
    response = client.get("/legacy")
    assert response.status_code == 308
    assert response["Location"] == "http://testserver/legacy/"


def raw_multipart(fields: dict[str, str], filename: str, content: bytes) -> tuple[bytes, str]:
    """A body built by hand: Django's test client strips directories from filenames."""
    boundary = "testboundary"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="content"; filename="{filename}"'
        "\r\nContent-Type: application/octet-stream\r\n\r\n".encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


@pytest.mark.parametrize(
    "filename", ["../demo-1.0-py3-none-any.whl", "a\\demo-1.0-py3-none-any.whl"]
)
def test_filename_with_slash_is_refused(client, token, filename):
    upload = wheel_upload()
    fields = {k: v for k, v in upload.data().items() if k != "content"}
    body, content_type = raw_multipart(fields, filename, upload.content)
    response = client.generic(
        "POST", "/legacy/", body, content_type=content_type, HTTP_AUTHORIZATION=basic_auth(token)
    )
    assert_refused(response, 400, "Cannot upload a file with '/' or '\\' in the name.")
    assert_nothing_stored()


@pytest.mark.parametrize("name", ["asyncio", "Email", "os"])
def test_standard_library_names_cannot_be_created(client, token, name):
    response = post_upload(client, wheel_upload(name), token)
    assert_refused(response, 400, f"The name '{name}' isn't allowed (conflict with Python Standard")
    assert_nothing_stored()
