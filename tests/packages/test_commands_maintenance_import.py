"""import_dists: a folder of real wheels and sdists becomes projects, releases and files, as
uploads would make them, and pip installs from it."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.files.storage import storages
from django.core.management import CommandError, call_command

from accounts.management.base import os_user
from packages.maintenance import storage_keys
from packages.models import File, JournalEntry, Project, Role
from tests.dists import make_sdist, make_wheel, metadata_text
from tests.factories import make_project, make_user


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def write(folder: Path, dist: tuple[str, bytes]) -> Path:
    filename, content = dist
    path = folder / filename
    path.write_bytes(content)
    return path


@pytest.fixture
def folder(tmp_path) -> Path:
    """A pypiserver-style folder: wheels and sdists, a sub-folder, an old-style sdist name, and
    files that are not distributions."""
    root = tmp_path / "packages"
    (root / "nested").mkdir(parents=True)
    write(root, make_wheel("alpha", "1.0"))
    write(root, make_sdist("alpha", "1.0"))
    write(root / "nested", make_wheel("alpha", "1.1"))
    summary = "Summary: The beta package\nRequires-Python: >=3.8\n"
    write(root, make_wheel("Beta.Pkg", "2.0", metadata=metadata_text("Beta.Pkg", "2.0", summary)))
    # Older setuptools named sdists after the display name; PyPI took them once.
    write(root, make_sdist("Beta.Pkg", "2.0", filename="Beta.Pkg-2.0.tar.gz", top="Beta.Pkg-2.0"))
    (root / "README.txt").write_text("not a distribution")
    (root / "old-1.0.egg").write_bytes(b"egg")
    return root


@pytest.mark.django_db
def test_import_dists_creates_what_uploads_would_and_is_idempotent(client, folder):
    owner = make_user("importer")
    out = run("import_dists", str(folder), "--user", "importer")
    assert out.strip().endswith("7 files in " + str(folder) + ": 5 created, 2 skipped.")

    assert set(Project.objects.values_list("normalized_name", flat=True)) == {"alpha", "beta-pkg"}
    assert set(Role.objects.values_list("user", "role_name")) == {(owner.pk, "Owner")}
    beta = Project.objects.get(normalized_name="beta-pkg")
    assert beta.name == "Beta.Pkg"
    release = beta.releases.get()
    assert (release.summary, release.requires_python) == ("The beta package", ">=3.8")
    assert File.objects.count() == 5
    storage = storages["default"]
    for file in File.objects.all():
        assert storage.exists(file.path)
        source = next(folder.rglob(file.filename))
        assert file.sha256_digest == hashlib.sha256(source.read_bytes()).hexdigest()
        assert file.uploaded_via == "manage.py import_dists"
    wheel = File.objects.get(filename="alpha-1.0-py3-none-any.whl")
    assert storage.exists(wheel.metadata_path) and wheel.metadata_sha256
    assert JournalEntry.objects.filter(action="create").count() == 2
    assert all(p.exists() for p in folder.rglob("*.whl"))  # The source folder is untouched.

    page = client.get("/simple/alpha/", HTTP_ACCEPT="application/vnd.pypi.simple.v1+json").json()
    listed = {f["filename"]: f["hashes"]["sha256"] for f in page["files"]}
    assert listed == {
        f.filename: f.sha256_digest for f in File.objects.filter(release__project__name="alpha")
    }
    assert page["versions"] == ["1.0", "1.1"]

    again = run("import_dists", str(folder), "--user", "importer")
    assert again.strip().endswith(": 5 exists, 2 skipped.")
    assert File.objects.count() == 5


@pytest.mark.django_db
def stored_keys() -> list[str]:
    try:
        return sorted(storage_keys(storages["default"]))
    except FileNotFoundError:  # Nothing was ever stored.
        return []


def run_failing(*args: str) -> tuple[str, CommandError]:
    out = io.StringIO()
    with pytest.raises(CommandError) as raised:
        call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue(), raised.value


@pytest.mark.django_db
def test_import_dists_dry_run_makes_the_real_checks_and_writes_nothing(tmp_path):
    dists = tmp_path / "dists"  # Apart from the test's storage folder, also in tmp_path.
    dists.mkdir()
    owner = make_user("importer")
    write(dists, make_wheel("os", "1.0"))  # A standard-library name: refused as on upload.
    write(dists, make_wheel("fine", "1.0"))
    write(dists, make_wheel("theirs", "1.0"))  # Someone else's project: no permission.
    theirs = make_project("theirs", owner=make_user("someone"))
    (dists / "notes.txt").write_text("not a distribution")
    storage_before = stored_keys()

    out, error = run_failing("import_dists", str(dists), "--user", "importer", "--dry-run")
    assert out.splitlines() == [
        "would create fine-1.0-py3-none-any.whl",
        "would fail os-1.0-py3-none-any.whl: The name 'os' isn't allowed (conflict with Python "
        "Standard Library module name). See http://testserver/help/#project-name for more "
        "information.",
        "would fail theirs-1.0-py3-none-any.whl: The user 'importer' isn't allowed to upload to "
        "project 'theirs'. See http://testserver/help/#project-name for more information.",
        "skipped notes.txt: not a wheel or an sdist",
        f"4 files in {dists}: 1 skipped, 1 would create, 2 would fail (dry run: nothing was "
        "written).",
    ]
    assert str(error) == "2 files would not import" and error.returncode == 1
    assert list(Project.objects.all()) == [theirs]
    assert not File.objects.exists() and not JournalEntry.objects.exists()
    assert stored_keys() == storage_before

    # The real run refuses the same files, and lists each file with its outcome.
    out, error = run_failing("import_dists", str(dists), "--user", "importer")
    assert out.splitlines()[:2] == [
        "created fine-1.0-py3-none-any.whl",
        "failed os-1.0-py3-none-any.whl: The name 'os' isn't allowed (conflict with Python "
        "Standard Library module name). See http://testserver/help/#project-name for more "
        "information.",
    ]
    assert out.splitlines()[-1] == f"4 files in {dists}: 1 created, 2 failed, 1 skipped."
    assert str(error) == "2 files could not be imported"
    assert set(Project.objects.values_list("name", flat=True)) == {"fine", "theirs"}
    assert Role.objects.get(project__name="fine").user == owner
    file = File.objects.get()
    assert storages["default"].exists(file.path)
    # The journal names the importing user and who ran the command.
    entry = JournalEntry.objects.get(action="create")
    assert (entry.submitted_by, entry.submitted_by_name) == (owner, os_user())

    # Once imported, a dry run says the file exists, in the singular where it is one.
    (dists / "os-1.0-py3-none-any.whl").unlink()
    (dists / "theirs-1.0-py3-none-any.whl").unlink()
    (dists / "notes.txt").unlink()
    out = run("import_dists", str(dists), "--user", "importer", "--dry-run", "--actor", "ops")
    assert out.splitlines() == [
        "exists fine-1.0-py3-none-any.whl",
        f"1 file in {dists}: 1 exists (dry run: nothing was written).",
    ]
    with pytest.raises(CommandError, match="No user named 'nobody'"):
        run("import_dists", str(dists), "--user", "nobody")


@pytest.mark.django_db
def test_import_dists_dry_run_checks_limits_under_the_projects_lock(tmp_path):
    """The total size limit is checked only in the locked phase of an upload: a dry run that
    stopped before it would promise an import that then fails."""
    dists = tmp_path / "dists"
    dists.mkdir()
    owner = make_user("importer")
    make_project("big", owner=owner, total_size=10 * 1024**3)
    write(dists, make_wheel("big", "1.0"))
    out, error = run_failing("import_dists", str(dists), "--user", "importer", "--dry-run")
    assert out.splitlines()[0].startswith(
        "would fail big-1.0-py3-none-any.whl: Project size too large."
    )
    assert str(error) == "1 file would not import"


@pytest.mark.django_db(transaction=True)
def test_imported_dists_install_with_pip_from_a_live_server(
    live_server, folder, tmp_path, settings
):
    # File links come from the site URL, which is the live server's here.
    settings.FILES_BASE_URL = f"{live_server.url}/packages/"
    make_user("importer")
    run("import_dists", str(folder), "--user", "importer")
    target = tmp_path / "site"
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.upper().startswith(("PIP_", "UV_")) and key.lower() != "pythonpath"
    }
    env["PIP_CONFIG_FILE"] = os.devnull
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-cache-dir",
            "--disable-pip-version-check",
            "--index-url",
            f"{live_server.url}/simple/",
            "--target",
            str(target),
            "alpha",
            "beta.pkg==2.0",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (target / "alpha" / "__init__.py").exists()
    assert (target / "alpha-1.1.dist-info").is_dir()  # The newest version, from the sub-folder.
    assert (target / "beta_pkg" / "__init__.py").exists()
