"""import_devpi with the checked-in export (tests/backups/devpi-export/, written by a real
devpi-server 6.20.3 through tests/backups/devpi_export.py): users, projects, releases, files and
roles arrive as uploads would make them; a damaged file keeps nothing of its project; a dry
run and a malformed export write nothing.

Installing an imported project with pip from a live server, and an export made by a devpi-server
running now, are tests/e2e/test_import_devpi.py.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from accounts.models import Email
from packages.models import File, JournalEntry, Project, Release, Role
from tests.backups.devpi_export import EMAILS, PASSWORDS, REQUIRES_PYTHON, SUMMARY

pytestmark = pytest.mark.django_db

FIXTURE = Path(__file__).resolve().parent / "devpi-export"
DEMO_FILES = {
    "demo_pkg-1.0-py3-none-any.whl",
    "demo_pkg-1.0.tar.gz",
    "demo_pkg-1.1-py3-none-any.whl",
}


def run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("import_devpi", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def stored_objects() -> set[str]:
    root = Path(settings.STORAGES["default"]["OPTIONS"]["location"])
    return (
        {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}
        if root.exists()
        else set()
    )


def export_hashes() -> dict[str, str]:
    """filename -> the sha256 dataindex.json records for it."""
    data = json.loads((FIXTURE / "dataindex.json").read_text())
    return {
        Path(f["relpath"]).name: f["entrymapping"]["hashes"]["sha256"]
        for index in data["indexes"].values()
        for f in index["files"]
    }


def nothing_written() -> bool:
    return (
        not get_user_model().objects.exists()
        and not Project.objects.exists()
        and not File.all_objects.exists()
        and not JournalEntry.objects.exists()
        and not stored_objects()
    )


@pytest.fixture
def export(tmp_path) -> Path:
    """A copy of the fixture, free to damage."""
    return Path(shutil.copytree(FIXTURE, tmp_path / "devpi-export"))


def edit_dataindex(directory: Path, change) -> None:
    path = directory / "dataindex.json"
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def test_import_creates_users_projects_releases_files_and_roles(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.Argon2PasswordHasher"]

    out, err = run(str(FIXTURE))

    assert "Imported 3 new users (0 already here), 2 projects with 4 new files" in out
    assert "files: 4/4" in err
    users = {user.username: user for user in get_user_model().objects.all()}
    assert set(users) == {"root", "alice", "bob"}
    # devpi's argon2 hashes verify here as they are: the same passwords log in.
    for name, password in PASSWORDS.items():
        assert users[name].check_password(password)
        assert not users[name].check_password(password + "x")
    for name, address in EMAILS.items():
        email = Email.objects.get(user=users[name])
        assert (email.email, email.primary, email.verified) == (address, True, False)
        assert users[name].email == address

    demo = Project.objects.get(normalized_name="demo-pkg")
    roles = dict(Role.objects.filter(project=demo).values_list("user__username", "role_name"))
    assert roles == {"alice": "Owner", "bob": "Maintainer"}  # bob was in alice/dev's acl_upload
    bob_tool = Project.objects.get(normalized_name="bob-tool")
    assert dict(
        Role.objects.filter(project=bob_tool).values_list("user__username", "role_name")
    ) == {"bob": "Owner"}
    releases = {r.version: r for r in Release.objects.filter(project=demo)}
    assert set(releases) == {"1.0", "1.1"}
    assert {(r.summary, r.requires_python) for r in releases.values()} == {
        (SUMMARY, REQUIRES_PYTHON)
    }

    hashes = export_hashes()
    files = {f.filename: f for f in File.objects.all()}
    assert set(files) == DEMO_FILES | {"bob_tool-0.1-py3-none-any.whl"}
    stored = stored_objects()
    for name, file in files.items():
        assert file.sha256_digest == hashes[name]
        assert file.uploaded_via == "manage.py import_devpi"
        assert file.path in stored
    assert files["demo_pkg-1.0-py3-none-any.whl"].metadata_sha256  # PEP 658, as an upload does
    actions = list(JournalEntry.objects.filter(name="demo-pkg").values_list("action", flat=True))
    assert actions[:2] == ["create", "add Owner alice"]
    assert "add Maintainer bob" in actions
    assert sum(a.startswith("add ") and " file " in a for a in actions) == 3
    assert demo.last_serial != bob_tool.last_serial


def test_a_second_run_changes_nothing():
    run(str(FIXTURE))
    serial = JournalEntry.objects.order_by("-pk").values_list("pk", flat=True).first()

    out, _err = run(str(FIXTURE))

    assert "Imported 0 new users (3 already here), 2 projects with 0 new files (4 already" in out
    assert JournalEntry.objects.order_by("-pk").values_list("pk", flat=True).first() == serial


def test_dry_run_reports_what_it_would_import_and_writes_nothing():
    out, _err = run(str(FIXTURE), "--dry-run")

    assert "Would import 3 new users (0 already here), 2 projects with 4 new files" in out
    assert "imported demo-pkg from alice/dev: 3 new file(s)" in out
    assert nothing_written()


def test_a_damaged_file_keeps_nothing_of_its_project(export):
    wheel = export / "alice/dev/demo-pkg/1.1/demo_pkg-1.1-py3-none-any.whl"
    body = bytearray(wheel.read_bytes())
    body[-1] ^= 0xFF
    wheel.write_bytes(bytes(body))

    with pytest.raises(CommandError, match="1 project could not be imported.*: demo-pkg"):
        run(str(export))

    assert not Project.objects.filter(normalized_name="demo-pkg").exists()
    assert not File.all_objects.filter(filename__in=DEMO_FILES).exists()
    assert not JournalEntry.objects.filter(name="demo-pkg").exists()
    assert all("demo_pkg" not in key for key in stored_objects())
    # The other project and the users are imported.
    assert File.objects.get().filename == "bob_tool-0.1-py3-none-any.whl"
    assert get_user_model().objects.count() == 3


def test_a_file_refused_by_the_upload_checks_keeps_nothing_of_its_project(export):
    """The sdist's hash is right (recomputed) but it is no sdist: the upload refuses it after
    the wheels before it were stored, and those go again."""
    sdist = export / "alice/dev/demo-pkg/1.0/demo_pkg-1.0.tar.gz"
    sdist.write_bytes(b"not a tarball")
    digest = hashlib.sha256(b"not a tarball").hexdigest()

    def rehash(data):
        for entry in data["indexes"]["alice/dev"]["files"]:
            if entry["relpath"].endswith(".tar.gz"):
                entry["entrymapping"]["hashes"]["sha256"] = digest
                entry["entrymapping"]["hash_spec"] = f"sha256={digest}"

    edit_dataindex(export, rehash)

    with pytest.raises(CommandError, match="demo-pkg"):
        run(str(export))

    assert not Project.objects.filter(normalized_name="demo-pkg").exists()
    assert all("demo_pkg" not in key for key in stored_objects())
    assert Project.objects.filter(normalized_name="bob-tool").exists()


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: (d / "dataindex.json").write_text("{not json"), "cannot read"),
        (lambda d: (d / "dataindex.json").write_text("[]"), "the top level should be an object"),
        (lambda d: (d / "dataindex.json").unlink(), "not a devpi-export directory"),
        (lambda d: edit_dataindex(d, lambda x: x.update(dumpversion="9")), "dumpversion '9'"),
        (lambda d: edit_dataindex(d, lambda x: x.update(users=[])), "users should be an object"),
        (
            lambda d: edit_dataindex(
                d, lambda x: x["indexes"]["bob/tools"]["files"][0].update(relpath="../../etc/x")
            ),
            "not a plain relative path",
        ),
        (
            lambda d: edit_dataindex(d, lambda x: x["users"].update({"bad name!": {}})),
            "users\\['bad name!'\\]",
        ),
        (
            lambda d: edit_dataindex(d, lambda x: x["users"].update({"a" * 151: {}})),
            "at most 150 characters",
        ),
        (
            lambda d: edit_dataindex(d, lambda x: x["users"].pop("bob")),
            "index bob/tools belongs to 'bob', not in users",
        ),
    ],
)
def test_a_malformed_export_is_refused_with_a_message_and_nothing_written(export, damage, message):
    damage(export)

    with pytest.raises(CommandError, match=message):
        run(str(export))

    assert nothing_written()


def test_a_name_in_two_indexes_with_different_files_is_an_error_unless_one_is_chosen(export):
    def copy_project(data):
        """bob/tools gets a demo-pkg 1.0 whose wheel differs (bob-tool's bytes)."""
        bob = data["indexes"]["bob/tools"]
        bob["projects"]["demo-pkg"] = data["indexes"]["alice/dev"]["projects"]["demo-pkg"]
        entry = json.loads(json.dumps(bob["files"][0]))
        entry.update(projectname="demo-pkg", version="1.0")
        entry["relpath"] = "bob/tools/demo-pkg/1.0/demo_pkg-1.0-py3-none-any.whl"
        bob["files"].append(entry)

    edit_dataindex(export, copy_project)
    target = export / "bob/tools/demo-pkg/1.0/demo_pkg-1.0-py3-none-any.whl"
    target.parent.mkdir(parents=True)
    shutil.copy(export / "bob/tools/bob-tool/0.1/bob_tool-0.1-py3-none-any.whl", target)

    with pytest.raises(CommandError, match="demo-pkg is in alice/dev and bob/tools with different"):
        run(str(export))
    assert nothing_written()

    out, _err = run(str(export), "--index", "alice/dev")
    assert "2 projects" not in out and "1 project with 3 new files" in out
    assert set(Project.objects.values_list("normalized_name", flat=True)) == {"demo-pkg"}


def test_the_same_release_in_two_indexes_is_imported_once_with_both_owners(export):
    def push(data):
        """bob/tools also has demo-pkg 1.1, the same file (devpi push)."""
        alice = data["indexes"]["alice/dev"]
        bob = data["indexes"]["bob/tools"]
        bob["projects"]["demo-pkg"] = {"1.1": alice["projects"]["demo-pkg"]["1.1"]}
        entry = next(f for f in alice["files"] if f["relpath"].endswith("1.1-py3-none-any.whl"))
        bob["files"].append(entry)

    edit_dataindex(export, push)

    out, _err = run(str(export))

    assert "imported demo-pkg from alice/dev, bob/tools: 3 new file(s)" in out
    demo = Project.objects.get(normalized_name="demo-pkg")
    assert dict(Role.objects.filter(project=demo).values_list("user__username", "role_name")) == {
        "alice": "Owner",
        "bob": "Owner",
    }


def test_old_devpi_hashes_become_unusable_passwords_and_existing_users_are_kept(export):
    get_user_model().objects.create_user("alice", password="mine")
    edit_dataindex(export, lambda d: d["users"]["bob"].update(pwsalt="c2FsdA==", pwhash="ab" * 32))

    out, _err = run(str(export), "--trust-emails")

    assert "user alice: already here, used as it is" in out
    assert "No usable password (they must reset it): bob" in out
    assert get_user_model().objects.get(username="alice").check_password("mine")
    bob = get_user_model().objects.get(username="bob")
    assert not bob.has_usable_password()
    assert Email.objects.get(user=bob).verified  # --trust-emails
    assert not Email.objects.filter(email=EMAILS["alice"]).exists()  # alice was already here
    # The existing alice owns what alice/dev held.
    assert (
        Role.objects.get(project__normalized_name="demo-pkg", role_name="Owner").user.username
        == "alice"
    )


def test_unknown_index_and_mirror_choices_are_refused(export):
    with pytest.raises(CommandError, match="the export has no index carol/x"):
        run(str(export), "--index", "carol/x")
    edit_dataindex(export, lambda d: d["indexes"]["bob/tools"]["indexconfig"].update(type="mirror"))
    with pytest.raises(CommandError, match="bob/tools: not a private"):
        run(str(export), "--index", "bob/tools")
    out, _err = run(str(export))
    assert "skipped index bob/tools: a mirror index, not imported" in out
    assert nothing_written() is False and not Project.objects.filter(name="bob-tool").exists()


def test_kinds_this_index_does_not_keep_are_skipped_and_the_project_imported(export):
    """An egg (devpi keeps them), a doc zip: listed as skipped, the rest of the project comes."""
    egg = export / "bob/tools/bob-tool/0.1/bob_tool-0.1-py3.11.egg"
    egg.write_bytes(b"an egg")
    (export / "bob/tools/bob-tool-0.1.doc.zip").write_bytes(b"docs")

    def add(data):
        files = data["indexes"]["bob/tools"]["files"]
        entry = json.loads(json.dumps(files[0]))
        entry["relpath"] = "bob/tools/bob-tool/0.1/bob_tool-0.1-py3.11.egg"
        entry["entrymapping"]["hashes"] = {"sha256": hashlib.sha256(b"an egg").hexdigest()}
        del entry["entrymapping"]["hash_spec"]
        files.append(entry)
        files.append(
            {"type": "doczip", "projectname": "bob-tool", "version": "0.1",
             "relpath": "bob/tools/bob-tool-0.1.doc.zip", "entrymapping": {}}
        )  # fmt: skip

    edit_dataindex(export, add)

    out, _err = run(str(export))

    assert "skipped index bob/tools: 1 doczip file(s)" in out
    assert "skipped bob/tools/bob_tool-0.1-py3.11.egg: not a wheel or an sdist" in out
    assert "imported bob-tool from bob/tools: 1 new file(s)" in out
    assert File.objects.filter(release__project__normalized_name="bob-tool").count() == 1
