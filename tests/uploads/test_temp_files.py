"""Temporary upload files: gone after every failed upload, and swept by `clean_upload_temp`
(and at gunicorn start) once old."""

from __future__ import annotations

import os
import time
from io import StringIO
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.core.management import call_command

from tests.factories import basic_auth, make_token, make_user, post_upload, wheel_upload
from tests.uploads.test_upload import assert_nothing_stored, raw_multipart

pytestmark = pytest.mark.django_db

HOUR = 3600


@pytest.fixture
def temp_dir(settings, tmp_path) -> Path:
    folder = tmp_path / "upload-tmp"
    folder.mkdir()
    settings.FILE_UPLOAD_TEMP_DIR = str(folder)
    return folder


@pytest.fixture(autouse=True)
def kept_handlers(monkeypatch) -> list:
    """Keep every upload handler alive past its request, as a retained traceback would: the
    files must be deleted by the request itself, not by the garbage collector."""
    import uploads.views
    from uploads.streaming import HashingUploadHandler

    kept = []

    class KeptHandler(HashingUploadHandler):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            kept.append(self)

    monkeypatch.setattr(uploads.views, "HashingUploadHandler", KeptHandler)
    return kept


@pytest.fixture
def token():
    return make_token(make_user("alice"))


def test_successful_upload_leaves_no_temporary_file(client, token, temp_dir, kept_handlers):
    assert post_upload(client, wheel_upload(), token).status_code == 200
    assert len(kept_handlers) == 1
    assert list(temp_dir.iterdir()) == []


def test_refused_upload_leaves_no_temporary_file(client, token, temp_dir):
    response = post_upload(client, wheel_upload(fields={"version": "dog"}), token)
    assert response.status_code == 400
    assert list(temp_dir.iterdir()) == []


def test_file_over_the_hard_cap_leaves_no_temporary_file(client, token, temp_dir, settings):
    settings.MAX_UPLOAD_LIMIT = 200
    response = post_upload(client, wheel_upload(), token)
    assert response.status_code == 400
    assert list(temp_dir.iterdir()) == []


def test_fields_too_large_after_the_file_leave_no_temporary_file(client, token, temp_dir, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    # The description comes after the file in the body, so the file is on disk by then.
    response = post_upload(client, wheel_upload(fields={"description": "x" * 20_000}), token)
    assert response.status_code == 400
    assert list(temp_dir.iterdir()) == []


def test_body_cut_off_mid_file_leaves_no_temporary_file(client, token, temp_dir):
    upload = wheel_upload()
    fields = {k: v for k, v in upload.data().items() if k != "content"}
    body, content_type = raw_multipart(fields, upload.filename, upload.content)
    cut = body[: body.index(upload.content) + len(upload.content) // 2]
    # The client went away: the body ends inside the file.
    response = client.generic(
        "POST", "/legacy/", cut, content_type=content_type, HTTP_AUTHORIZATION=basic_auth(token)
    )
    assert response.status_code == 400
    assert list(temp_dir.iterdir()) == []
    assert_nothing_stored()


def test_exception_in_the_view_leaves_no_temporary_file(client, token, temp_dir, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr("uploads.views.upload_file", broken)
    client.raise_request_exception = False
    response = post_upload(client, wheel_upload(), token)
    assert response.status_code == 500
    assert list(temp_dir.iterdir()) == []


def make_temp(folder: Path, name: str, *, hours_old: float) -> Path:
    path = folder / name
    path.write_bytes(b"partial upload")
    then = time.time() - hours_old * HOUR
    os.utime(path, (then, then))
    return path


@pytest.fixture
def leftovers(temp_dir) -> dict[str, Path]:
    return {
        "old": make_temp(temp_dir, "tmpabc123.upload", hours_old=30),
        "old_django": make_temp(temp_dir, "tmpdef456.upload.gz", hours_old=25),
        "young": make_temp(temp_dir, "tmpghi789.upload", hours_old=2),
        "not_ours": make_temp(temp_dir, "notes.txt", hours_old=100),
    }


def run_command(*args: str) -> str:
    out = StringIO()
    call_command("clean_upload_temp", *args, stdout=out)
    return out.getvalue()


def test_command_deletes_old_files_and_keeps_young_ones(leftovers, temp_dir):
    output = run_command()
    assert sorted(p.name for p in temp_dir.iterdir()) == ["notes.txt", "tmpghi789.upload"]
    assert f"Deleted {leftovers['old']}" in output
    assert f"Deleted {leftovers['old_django']}" in output
    assert output.splitlines()[-1] == (
        f"Deleted 2 temporary upload files older than 24 hours from {temp_dir}."
    )


def test_command_min_age_and_singular(leftovers, temp_dir):
    output = run_command("--min-age-hours", "26")
    assert not leftovers["old"].exists()
    assert leftovers["old_django"].exists()
    assert output.splitlines()[-1] == (
        f"Deleted 1 temporary upload file older than 26 hours from {temp_dir}."
    )
    output = run_command("--min-age-hours", "1")
    assert output.splitlines()[-1] == (
        f"Deleted 2 temporary upload files older than 1 hour from {temp_dir}."
    )
    assert sorted(p.name for p in temp_dir.iterdir()) == ["notes.txt"]


def test_command_dry_run_deletes_nothing(leftovers, temp_dir):
    output = run_command("--dry-run")
    assert all(path.exists() for path in leftovers.values())
    assert f"Would delete {leftovers['old']}" in output
    assert output.splitlines()[-1] == (
        f"Would delete 2 temporary upload files older than 24 hours from {temp_dir}."
    )


def test_command_help_describes_it():
    from uploads.management.commands.clean_upload_temp import Command

    parser = Command().create_parser("manage.py", "clean_upload_temp")
    text = parser.format_help()
    assert "--min-age-hours" in text and "--dry-run" in text
    assert "Delete temporary upload files older than" in text


def test_gunicorn_start_sweeps_old_files(leftovers, temp_dir, monkeypatch, tmp_path):
    from pypi_site import gunicorn

    # on_starting also sets up the metrics directory; keep that out of this process's env.
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "prometheus"))
    messages = []
    server = SimpleNamespace(log=SimpleNamespace(info=lambda *args: messages.append(args)))
    gunicorn.on_starting(server)
    assert sorted(p.name for p in temp_dir.iterdir()) == ["notes.txt", "tmpghi789.upload"]
    sweeps = [m for m in messages if m[0].startswith("Deleted")]
    assert len(sweeps) == 1
    assert sweeps[0][0].startswith("Deleted 2 temporary upload files older than 24 hours")
