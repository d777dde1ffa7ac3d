"""manage.py fetch_upstream: seeds the cache from requirements and lock files."""

from __future__ import annotations

import io

import pytest
from django.core.files.storage import storages
from django.core.management import CommandError, call_command

from packages.models import File, Project
from proxy import seeding
from tests.factories import make_project

pytestmark = pytest.mark.django_db


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("fetch_upstream", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def projects(upstream):
    upstream.add_wheel("alpha", "1.0")
    upstream.add_wheel("alpha", "2.0")
    upstream.add_wheel("beta", "0.1")
    return upstream


def stored(filename: str) -> bool:
    return storages["default"].exists(File.objects.get(filename=filename).path)


def test_requirements_file_fetches_pinned_and_whole_projects(projects, tmp_path):
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("# tools\nalpha==1.0 --hash=sha256:abc\nBeta>=0.1  # any\n")
    out, err = run("-r", str(requirements))
    assert "Fetching 2 files" in out and "[2/2] 100%" in err
    assert stored("alpha-1.0-py3-none-any.whl") and stored("beta-0.1-py3-none-any.whl")
    assert not stored("alpha-2.0-py3-none-any.whl")
    # Again: everything is cached, nothing is downloaded twice.
    assert "Fetching 0 files" in run("alpha==1.0")[0]
    assert projects.file_requests("alpha-1.0-py3-none-any.whl") == 1


def test_dry_run_lists_and_changes_nothing(projects):
    out, _err = run("alpha", "--dry-run")
    assert "would fetch alpha: alpha-1.0-py3-none-any.whl" in out
    assert "alpha-2.0-py3-none-any.whl" in out
    assert not Project.objects.exists()
    assert projects.file_requests("alpha-1.0-py3-none-any.whl") == 0


def test_lockfiles(projects, tmp_path):
    uv_lock = tmp_path / "uv.lock"
    uv_lock.write_text(
        'version = 1\n[[package]]\nname = "me"\nversion = "0.1"\nsource = { editable = "." }\n'
        '[[package]]\nname = "alpha"\nversion = "2.0"\n'
    )
    pylock = tmp_path / "pylock.toml"
    pylock.write_text('lock-version = "1.0"\n[[packages]]\nname = "beta"\nversion = "0.1"\n')
    run("--lockfile", str(uv_lock), "--lockfile", str(pylock))
    assert stored("alpha-2.0-py3-none-any.whl") and stored("beta-0.1-py3-none-any.whl")
    assert not stored("alpha-1.0-py3-none-any.whl")


def test_local_projects_and_unknown_names(projects):
    make_project("beta")
    with pytest.raises(CommandError, match="1 failures"):
        run("beta", "nowhere")
    assert projects.page_requests("beta") == 0


def test_bad_requirement_is_a_clear_error():
    with pytest.raises(seeding.SeedError, match="not a requirement"):
        seeding.from_requirements(["alpha==="])
