"""PEP 740 end to end: a real published distribution and its real attestation, uploaded by a
trusted publisher whose identity matches them, stored and served byte for byte; an attestation
for another file, another identity, or a tampered statement refused with nothing stored.

The assets (tests/attestations/assets/) are the pypi-attestations project's own test pairs:
its 0.0.19 sdist with the publish attestation PyPI received for it from GitHub Actions
(repository trailofbits/pypi-attestations, workflow release.yml), and a GitLab CI one.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from django.core.files.storage import storages
from pypi_attestations import GitHubPublisher

from attestations.models import Provenance
from packages import moderation
from packages.models import File, Project
from tests.factories import UploadRequest, make_token, make_user, post_upload

pytestmark = pytest.mark.django_db

ASSETS = Path(__file__).parent / "assets"
DIST = "pypi_attestations-0.0.19.tar.gz"
OTHER_DIST = "gitlab_oidc_project-0.0.3.tar.gz"
MEDIA_TYPE = "application/vnd.pypi.integrity.v1+json"
PROVENANCE_URL = "/integrity/pypi-attestations/0.0.19/pypi_attestations-0.0.19.tar.gz/provenance"
PUBLISHER = GitHubPublisher(repository="trailofbits/pypi-attestations", workflow="release.yml")


def asset(name: str) -> bytes:
    return (ASSETS / name).read_bytes()


def attestation_field(*attestations: bytes) -> str:
    return "[" + ",".join(a.decode() for a in attestations) + "]"


def dist_upload(filename: str = DIST, *, attestations: str | None) -> UploadRequest:
    name, version = filename.removesuffix(".tar.gz").rsplit("-", 1)
    fields = {} if attestations is None else {"attestations": attestations}
    return UploadRequest(
        filename=filename,
        content=asset(filename),
        name=name.replace("_", "-"),
        version=version,
        filetype="sdist",
        pyversion="source",
        fields=fields,
    )


@pytest.fixture
def token():
    return make_token(make_user("alice"))


@pytest.fixture
def as_publisher(monkeypatch):
    """The seam trusted publishing fills in (uploads.attestation_upload.identity_for_token):
    here it answers with the identity a test passes, and notes which token it was asked about."""
    identity = {"value": PUBLISHER, "asked": []}

    def identity_for_token(token):
        identity["asked"].append(token)
        return identity["value"]

    monkeypatch.setattr("uploads.attestation_upload.identity_for_token", identity_for_token)
    return identity


def stored_objects() -> list[str]:
    storage = storages["default"]
    found = []

    def walk(folder: str) -> None:
        if not storage.exists(folder or "."):
            return
        dirs, files = storage.listdir(folder or ".")
        found.extend(f"{folder}/{f}".lstrip("/") for f in files)
        for d in dirs:
            walk(f"{folder}/{d}".lstrip("/"))

    walk("")
    return found


def assert_nothing_stored() -> None:
    assert not File.objects.exists()
    assert not Project.objects.exists()
    assert not Provenance.objects.exists()
    assert stored_objects() == []


def refused(response, detail: str) -> None:
    message = f"Invalid attestations supplied during upload: {detail}"
    assert response.status_code == 400, response.content
    assert response.reason_phrase.startswith(message[:200])
    assert message in response.content.decode()


def test_valid_attestation_is_stored_and_served_byte_for_byte(
    client, token, as_publisher, django_capture_on_commit_callbacks
):
    published = asset(f"{DIST}.publish.attestation")
    with django_capture_on_commit_callbacks(execute=True):
        response = post_upload(
            client, dist_upload(attestations=attestation_field(published)), token
        )
    assert response.status_code == 200, response.content
    # The seam was asked about the token the upload authenticated with.
    assert [token_row.user.username for token_row in as_publisher["asked"]] == ["alice"]

    row = Provenance.objects.get()
    assert row.file.filename == DIST and row.file.has_provenance
    assert (row.publisher_kind, row.repository, row.workflow, row.environment) == (
        "GitHub",
        "trailofbits/pypi-attestations",
        "release.yml",
        "",
    )
    assert row.predicate_types == ["https://docs.pypi.org/attestations/publish/v1"]

    served = client.get(PROVENANCE_URL, HTTP_ACCEPT=MEDIA_TYPE)
    assert served.status_code == 200
    assert served["Content-Type"] == MEDIA_TYPE
    assert served.content == row.body.encode()
    body = json.loads(served.content)
    # The attestation as uploaded, and the same provenance object the public index serves
    # for this file.
    assert body["attestation_bundles"][0]["attestations"] == [json.loads(published)]
    assert body == json.loads(asset(f"{DIST}.provenance"))

    # Accept: none, */* and application/json are served; anything else is 406.
    assert client.get(PROVENANCE_URL).content == served.content
    as_json = client.get(PROVENANCE_URL, HTTP_ACCEPT="application/json")
    assert as_json["Content-Type"] == "application/json" and as_json.content == served.content
    assert client.get(PROVENANCE_URL, HTTP_ACCEPT="text/html").status_code == 406

    # The simple API points at it, in both formats.
    url = f"http://testserver{PROVENANCE_URL}"
    detail = client.get(
        "/simple/pypi-attestations/", HTTP_ACCEPT="application/vnd.pypi.simple.v1+json"
    )
    assert detail.json()["files"][0]["provenance"] == url
    assert detail.json()["meta"]["api-version"] == "1.4"
    assert f'data-provenance="{url}"' in client.get("/simple/pypi-attestations/").content.decode()

    # The release page says which repository and workflow built the file.
    page = client.get("/project/pypi-attestations/0.0.19/").content.decode()
    assert "trailofbits/pypi-attestations" in page and "release.yml" in page


def test_integrity_api_404s(client, token, as_publisher, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        as_publisher["value"] = None
        assert post_upload(client, dist_upload(attestations=None), token).status_code == 200
    # A file without provenance, and names that match nothing.
    assert client.get(PROVENANCE_URL).status_code == 404
    detail = client.get(
        "/simple/pypi-attestations/", HTTP_ACCEPT="application/vnd.pypi.simple.v1+json"
    ).json()
    assert detail["files"][0]["provenance"] is None
    assert "data-provenance" not in client.get("/simple/pypi-attestations/").content.decode()
    for url in [
        "/integrity/nope/0.0.19/pypi_attestations-0.0.19.tar.gz/provenance",
        "/integrity/pypi-attestations/9.9/pypi_attestations-0.0.19.tar.gz/provenance",
        "/integrity/pypi-attestations/%00/x/provenance",
        "/integrity/pypi-attestations/0.0.19/pypi_attestations%00.tar.gz/provenance",
        "/integrity/pypi-attestations/0.0.19/other.tar.gz/provenance",
        "/integrity/-/-/-/provenance",
    ]:
        assert client.get(url).status_code == 404, url


def test_quarantined_projects_provenance_is_hidden(client, token, as_publisher):
    published = asset(f"{DIST}.publish.attestation")
    assert (
        post_upload(
            client, dist_upload(attestations=attestation_field(published)), token
        ).status_code
        == 200
    )
    moderation.quarantine_project(project=Project.objects.get(), reason="review")
    assert client.get(PROVENANCE_URL).status_code == 404


def test_attestation_for_another_file_is_refused(client, token, as_publisher):
    published = asset(f"{DIST}.publish.attestation")
    response = post_upload(
        client, dist_upload(OTHER_DIST, attestations=attestation_field(published)), token
    )
    refused(
        response,
        "Could not verify the uploaded artifact using the included attestation: "
        "Verification failed: subject does not match distribution name: "
        f"pypi_attestations-0.0.19.tar.gz != {OTHER_DIST}",
    )
    assert_nothing_stored()


def test_attestation_for_another_identity_is_refused(client, token, as_publisher):
    as_publisher["value"] = GitHubPublisher(
        repository="trailofbits/pypi-attestations", workflow="other.yml"
    )
    published = asset(f"{DIST}.publish.attestation")
    response = post_upload(client, dist_upload(attestations=attestation_field(published)), token)
    refused(response, "Could not verify the uploaded artifact using the included attestation: ")
    assert "does not match expected Trusted Publisher" in response.content.decode()
    assert_nothing_stored()

    as_publisher["value"] = GitHubPublisher(repository="someone/else", workflow="release.yml")
    response = post_upload(client, dist_upload(attestations=attestation_field(published)), token)
    refused(response, "Could not verify the uploaded artifact using the included attestation: ")
    assert_nothing_stored()


def test_tampered_statement_is_refused(client, token, as_publisher):
    attestation = json.loads(asset(f"{DIST}.publish.attestation"))
    statement = json.loads(base64.b64decode(attestation["envelope"]["statement"]))
    statement["predicate"] = {"tampered": True}
    attestation["envelope"]["statement"] = base64.b64encode(json.dumps(statement).encode()).decode()
    response = post_upload(client, dist_upload(attestations=json.dumps([attestation])), token)
    refused(response, "Could not verify the uploaded artifact using the included attestation: ")
    assert_nothing_stored()


def test_attestations_need_a_trusted_publisher(client, token):
    """A user's API token is no trusted publisher's (the seam as shipped says so)."""
    published = asset(f"{DIST}.publish.attestation")
    response = post_upload(client, dist_upload(attestations=attestation_field(published)), token)
    refused(response, "Attestations are only supported when using Trusted Publishing")
    assert_nothing_stored()


@pytest.mark.parametrize(
    ("field", "detail"),
    [
        ("not json", "Malformed attestations: "),
        ('{"a": 1}', "Malformed attestations: "),
        ("[]", "Malformed attestations: an empty attestation set is not permitted"),
        ('[{"version": 1}]', "Malformed attestations: "),
        ("[" + ",".join(["{}"] * 3) + "]", "Malformed attestations: "),
        ("[" + " " * 300_000 + "]", "Malformed attestations: the field is larger than"),
    ],
)
def test_malformed_attestations_are_refused(client, token, as_publisher, field, detail):
    refused(post_upload(client, dist_upload(attestations=field), token), detail)
    assert_nothing_stored()


def test_too_many_attestations_are_refused(client, token, as_publisher):
    published = asset(f"{DIST}.publish.attestation")
    response = post_upload(
        client, dist_upload(attestations=attestation_field(published, published, published)), token
    )
    refused(response, "A maximum of 2 attestations per file are supported")
    assert_nothing_stored()


def test_duplicate_predicate_type_is_refused(client, token, as_publisher):
    published = asset(f"{DIST}.publish.attestation")
    response = post_upload(
        client, dist_upload(attestations=attestation_field(published, published)), token
    )
    refused(
        response,
        "Multiple attestations for the same file with the same predicate type "
        "(https://docs.pypi.org/attestations/publish/v1) are not supported",
    )
    assert_nothing_stored()


def test_provenance_survives_export_and_import(client, token, as_publisher, tmp_path):
    from tests.backups.test_export_import import empty_index, run

    published = asset(f"{DIST}.publish.attestation")
    response = post_upload(client, dist_upload(attestations=attestation_field(published)), token)
    assert response.status_code == 200
    before = client.get(PROVENANCE_URL).content

    run("export_index", str(tmp_path / "export"))
    empty_index()
    assert client.get(PROVENANCE_URL).status_code == 404
    run("import_index", str(tmp_path / "export"), "--verify")

    assert client.get(PROVENANCE_URL).content == before
    assert Provenance.objects.get().file.has_provenance
