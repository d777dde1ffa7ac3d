"""Maintenance and moderation commands against a real storage folder (tests/conftest.py gives
each test its own)."""

from __future__ import annotations

import io
import os
import time
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.core.management import CommandError, call_command

from accounts.freezing import is_frozen
from accounts.tokens import find_api_token
from packages.models import File, JournalEntry, ProhibitedProjectName, Project, Release
from tests.factories import make_token, make_user, post_upload, sdist_upload, wheel_upload

pytestmark = pytest.mark.django_db


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def run_failing(*args: str) -> str:
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


@pytest.fixture
def uploaded(client):
    """demo 1.0 as a wheel and an sdist, stored for real."""
    token = make_token(make_user("owner"))
    for upload in (wheel_upload("demo", "1.0"), sdist_upload("demo", "1.0")):
        assert post_upload(client, upload, token).status_code == 200
    return token


def storage_path(key: str) -> Path:
    return Path(storages["default"].path(key))


def test_verify_storage_reports_deleted_and_corrupted_files(uploaded):
    out, _err = run("verify_storage")
    assert out.strip().endswith(
        "2 files checked: 0 with problems, 0 repaired; 0 old orphans, 0 removed; "
        "0 young orphans left alone."
    )

    wheel = File.objects.get(packagetype="bdist_wheel")
    sdist = File.objects.get(packagetype="sdist")
    storage_path(sdist.path).unlink()
    corrupted = bytearray(storage_path(wheel.path).read_bytes())
    corrupted[-1] ^= 0xFF  # Same size, different bytes.
    storage_path(wheel.path).write_bytes(bytes(corrupted))

    out = run_failing("verify_storage")
    assert f"{sdist.filename}: missing {sdist.path}" in out
    assert f"{wheel.filename}: md5, sha256, blake2_256 digest mismatch" in out
    assert "2 with problems" in out
    # --quick only compares sizes, so it misses the corruption but not the deletion.
    quick = run_failing("verify_storage", "--quick")
    assert sdist.filename in quick and wheel.filename not in quick
    # A long run resumes from the id its progress last showed.
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError):
        call_command("verify_storage", "--every", "1", "--no-orphans", stdout=out, stderr=err)
    assert f"files: 1/2 (id {min(wheel.pk, sdist.pk)})" in err.getvalue()
    resumed = run_failing("verify_storage", "--start-id", str(max(wheel.pk, sdist.pk)))
    assert "1 file checked" in resumed


def test_verify_storage_lists_and_removes_old_orphans_and_restores_metadata(uploaded):
    storage = storages["default"]
    orphan = storage.save("ab/cd/" + "e" * 60 + "/stray-1.0.tar.gz", ContentFile(b"stray"))
    young = storage.save("ab/cd/" + "f" * 60 + "/in-flight-1.0.tar.gz", ContentFile(b"new"))
    two_days_ago = time.time() - 2 * 86400
    os.utime(storage.path(orphan), (two_days_ago, two_days_ago))
    wheel = File.objects.get(packagetype="bdist_wheel")
    storage.delete(wheel.metadata_path)

    out = run_failing("verify_storage", "--fix", "--dry-run")
    assert f"orphan (would remove): {orphan}" in out
    assert f"young orphan (may be an upload in progress): {young}" in out
    assert "metadata: would fix" in out
    assert storage.exists(orphan) and not storage.exists(wheel.metadata_path)

    out, _err = run("verify_storage", "--fix")
    assert f"orphan removed: {orphan}" in out
    assert "1 repaired; 1 old orphan, 1 removed; 1 young orphan left alone." in out
    assert not storage.exists(orphan) and storage.exists(young)
    assert storage.exists(wheel.metadata_path)
    out, _err = run("verify_storage")
    assert "0 with problems" in out


def test_verify_storage_min_age_decides_which_orphans_are_young(uploaded):
    storage = storages["default"]
    orphan = storage.save("ab/cd/" + "e" * 60 + "/stray-1.0.tar.gz", ContentFile(b"stray"))
    two_hours_ago = time.time() - 7200
    os.utime(storage.path(orphan), (two_hours_ago, two_hours_ago))
    # By default (24 hours) it may still be an upload in progress: listed, kept, no failure.
    out, _err = run("verify_storage", "--fix")
    assert f"young orphan (may be an upload in progress): {orphan}" in out
    assert out.strip().endswith("0 old orphans, 0 removed; 1 young orphan left alone.")
    assert storage.exists(orphan)
    out = run_failing("verify_storage", "--min-age-hours", "1")
    assert f"orphan: {orphan}" in out and storage.exists(orphan)
    assert out.strip().endswith("1 old orphan, 0 removed; 0 young orphans left alone.")
    out, _err = run("verify_storage", "--min-age-hours", "1", "--fix")
    assert f"orphan removed: {orphan}" in out and not storage.exists(orphan)


def test_backfill_metadata_is_idempotent(uploaded):
    storage = storages["default"]
    wheel = File.objects.get(packagetype="bdist_wheel")
    recorded = wheel.metadata_sha256
    storage.delete(wheel.metadata_path)
    File.objects.filter(pk=wheel.pk).update(metadata_sha256="")
    serial = JournalEntry.objects.latest("id").pk

    out, _err = run("backfill_metadata", "--dry-run")
    assert "1 would fix" in out and not storage.exists(wheel.metadata_path)
    out, _err = run("backfill_metadata")
    assert out.strip() == "1 wheel checked: 1 fixed."
    wheel.refresh_from_db()
    assert wheel.metadata_sha256 == recorded
    assert storage.exists(wheel.metadata_path)
    assert JournalEntry.objects.latest("id").pk > serial  # Pages of the project re-render.
    out, _err = run("backfill_metadata", "--all")
    assert out.strip() == "1 wheel checked: 1 ok."


def test_recompute_sizes(uploaded):
    project = Project.objects.get()
    right = project.total_size
    Project.objects.filter(pk=project.pk).update(total_size=5)
    out, _err = run("recompute_sizes", "--dry-run")
    assert f"project {project.pk}: recorded 5, files {right}" in out
    assert Project.objects.get().total_size == 5
    out, _err = run("recompute_sizes")
    assert out.strip().endswith("1 project with a wrong total size; fixed 1.")
    assert Project.objects.get().total_size == right
    out, _err = run("recompute_sizes")
    assert out.strip() == "0 projects with a wrong total size; fixed 0."


def test_rerender_descriptions(uploaded):
    Release.objects.update(description="Hello *world*", description_content_type="text/markdown")
    Release.objects.update(description_html="", description_rendered_at=None)
    assert run("rerender_descriptions", "--dry-run")[0].strip() == "Would render 1 description."
    out, _err = run("rerender_descriptions")
    assert out.strip() == "1 description rendered, 0 failed."
    assert "<em>world</em>" in Release.objects.get().description_html
    assert run("rerender_descriptions")[0].strip() == "0 descriptions rendered, 0 failed."
    assert run("rerender_descriptions", "--all")[0].strip() == "1 description rendered, 0 failed."


def test_quarantine_project_command(client, uploaded):
    assert (
        "Would quarantine demo"
        in run("quarantine_project", "Demo", "--reason", "x", "--dry-run")[0]
    )
    assert not Project.objects.get().is_quarantined
    run("quarantine_project", "demo", "--reason", "malware")
    assert Project.objects.get().is_quarantined
    assert client.get("/pypi/demo/json").status_code == 404
    assert "Nothing to do" in run("quarantine_project", "demo", "--reason", "again")[0]
    run("quarantine_project", "demo", "--reason", "cleared", "--clear")
    assert not Project.objects.get().is_quarantined
    actions = list(JournalEntry.objects.values_list("action", flat=True))[-2:]
    assert actions == ["project quarantined", "project quarantine cleared"]
    with pytest.raises(CommandError, match="No project named 'nope'"):
        run("quarantine_project", "nope", "--reason", "x")


def test_prohibit_name_command(client):
    assert "Would prohibit" in run("prohibit_name", "Bad.Name", "--reason", "x", "--dry-run")[0]
    assert not ProhibitedProjectName.objects.exists()
    run("prohibit_name", "Bad.Name", "--reason", "squatting")
    assert ProhibitedProjectName.objects.get().comment == "squatting"
    token = make_token(make_user("someone"))
    response = post_upload(client, wheel_upload("bad-name", "1.0"), token)
    assert response.status_code == 400 and "isn't allowed" in response.reason_phrase
    run("prohibit_name", "bad_name", "--reason", "mistake", "--allow")
    assert not ProhibitedProjectName.objects.exists()
    assert post_upload(client, wheel_upload("bad-name", "1.0"), token).status_code == 200


def test_freeze_user_command(uploaded):
    assert "Would freeze owner" in run("freeze_user", "owner", "--reason", "x", "--dry-run")[0]
    run("freeze_user", "owner", "--reason", "abuse")
    assert find_api_token(uploaded) is None
    run("freeze_user", "owner", "--reason", "appeal", "--unfreeze")
    assert find_api_token(uploaded) is not None
    assert not is_frozen(find_api_token(uploaded).user)


def test_journal_since_serial(uploaded):
    entries = list(JournalEntry.objects.order_by("id"))
    out, err = run("journal", "--since", str(entries[1].pk))
    lines = out.splitlines()
    assert len(lines) == len(entries) - 2
    serial, _date, name, version, action, user = lines[0].split("\t")
    assert (int(serial), name, version, action, user) == (
        entries[2].pk,
        "demo",
        entries[2].version,
        entries[2].action,
        "owner",
    )
    assert err.strip() == f"{len(lines)} changes, last serial {entries[-1].pk}"
