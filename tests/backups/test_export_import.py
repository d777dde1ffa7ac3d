"""export_index and import_index in one process: an export loaded into an emptied database
exports the same bytes again; every refusal leaves the database and storage as they were.

The move between databases and storages (SQLite + files -> PostgreSQL + S3 -> back) is
tests/e2e/test_backup_round_trip.py.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from io import StringIO
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command

from accounts.models import Account, ApiToken
from accounts.tokens import find_api_token
from backups.layout import DERIVED_MODELS, BackupError, checked_key, tables
from organizations.models import Organization, OrganizationEvent
from packages.models import (
    AdminFlag,
    File,
    FilenameRegistry,
    JournalEntry,
    ProhibitedProjectName,
    Project,
    ProjectEvent,
    YankChange,
)
from tests.backups.seed import FAST_HASHERS, seed_index
from webhooks.models import Subscription

pytestmark = pytest.mark.django_db


def run(command: str, *args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(command, *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def storage_root() -> Path:
    return Path(settings.STORAGES["default"]["OPTIONS"]["location"])


def stored_objects() -> dict[str, bytes]:
    root = storage_root()
    if not root.exists():
        return {}
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def export_contents(directory: Path) -> dict[str, bytes]:
    """Every file of an export but the manifest's creation time."""
    contents = {
        str(path.relative_to(directory)): path.read_bytes()
        for path in sorted(directory.rglob("*"))
        if path.is_file() and path.name != "manifest.json"
    }
    manifest = json.loads((directory / "manifest.json").read_text())
    manifest.pop("created")
    contents["manifest.json"] = json.dumps(manifest, sort_keys=True).encode()
    return contents


def empty_index() -> None:
    """What a freshly migrated database has: no project-side rows, no users, the two staff
    groups and the site flags (all off); and an empty storage."""
    for model in (
        Subscription,
        Project,
        JournalEntry,
        ProjectEvent,
        FilenameRegistry,
        ProhibitedProjectName,
        Organization,  # after its projects, which protect it
        OrganizationEvent,
    ):
        model._base_manager.all().delete()
    get_user_model().objects.all().delete()
    Group.objects.exclude(name__in=["moderators", "administrators"]).delete()
    AdminFlag.objects.update(enabled=False, banner="")
    shutil.rmtree(storage_root(), ignore_errors=True)


def rewrite_table(directory: Path, name: str, change) -> None:
    """Edit a table and its manifest entry alike: an export that is consistent but wrong."""
    path = directory / f"{name}.jsonl"
    rows = [change(json.loads(line)) for line in path.read_text().splitlines()]
    text = "".join(json.dumps(row, sort_keys=True) + "\n" for row in rows).encode()
    path.write_bytes(text)
    manifest = json.loads((directory / "manifest.json").read_text())
    manifest["tables"][name]["sha256"] = hashlib.sha256(text).hexdigest()
    (directory / "manifest.json").write_text(json.dumps(manifest))


@pytest.fixture(autouse=True)
def _fast_hashes(settings):
    settings.PASSWORD_HASHERS = FAST_HASHERS


@pytest.fixture
def exported(tmp_path) -> tuple[Path, dict[str, str]]:
    tokens = seed_index()
    directory = tmp_path / "export"
    out, err = run("export_index", str(directory))
    assert "Exported" in out and "files: 5 files, 9 objects" in err
    return directory, tokens


def test_import_into_an_empty_index_exports_the_same_bytes(exported, tmp_path):
    directory, tokens = exported
    serials = list(JournalEntry.objects.order_by("pk").values_list("pk", flat=True))
    objects = stored_objects()
    empty_index()

    out, err = run("import_index", str(directory), "--verify")

    assert "verified" in out and f"verified: {len(tables())} tables and 9 objects match" in err
    # Every object a file row names, the deleted project's included: an owner's deletion keeps
    # them (and their rows) for the point-in-time view until purged.
    restored = stored_objects()
    assert len(restored) == 9 and restored == {key: objects[key] for key in restored}
    gone = Project.all_objects.get(name="demo-gone")
    assert gone.deleted_at is not None and not Project.objects.filter(name="demo-gone").exists()
    assert File.all_objects.get(release__project=gone).deleted_at == gone.deleted_at
    assert YankChange.objects.filter(yanked=True).exists()
    run("export_index", str(tmp_path / "again"))
    assert export_contents(tmp_path / "again") == export_contents(directory)
    # What a move must keep working: serials, passwords, tokens and their scope, 2FA, flags.
    assert list(JournalEntry.objects.order_by("pk").values_list("pk", flat=True)) == serials
    alice = get_user_model().objects.get(username="alice")
    assert alice.check_password("alice-password")
    assert Account.objects.get(user=alice).has_totp
    assert find_api_token(tokens["alice"]).user == alice
    bob_token = find_api_token(tokens["bob"])
    assert bob_token.scoped and [p.name for p in bob_token.projects.all()] == ["demo-one"]
    assert get_user_model().objects.get(username="bob").groups.get().name == "moderators"
    assert Project.objects.get(name="demo-two").is_quarantined
    assert AdminFlag.objects.get(id="disallow-new-user-registration").enabled
    # New rows get ids after the imported ones (PostgreSQL's sequences were moved on).
    project = Project.objects.create(name="later", normalized_name="later")
    assert project.pk > max(Project.objects.exclude(pk=project.pk).values_list("pk", flat=True))


def test_import_leaves_users_with_other_names_alone(exported):
    directory, _tokens = exported
    empty_index()
    admin = get_user_model().objects.create_superuser("first-admin", "first@example.com", "pw")

    run("import_index", str(directory), "--verify")

    admin.refresh_from_db()
    assert admin.check_password("pw") and admin.is_superuser
    assert get_user_model().objects.filter(username="alice").exists()
    assert not ApiToken.objects.filter(user=admin).exists()


def test_import_refuses_a_user_that_exists_by_name(exported):
    directory, _tokens = exported
    empty_index()
    get_user_model().objects.create_user("alice", "someone-else@example.com", "pw")

    with pytest.raises(CommandError, match="these users already exist in this database: alice"):
        run("import_index", str(directory))
    assert get_user_model().objects.count() == 1 and stored_objects() == {}


def test_import_refuses_a_database_with_projects(exported):
    directory, _tokens = exported
    # Organizations come first in the layout (projects name them), so they are found first.
    with pytest.raises(CommandError, match="already has 2 organizations: .* freshly migrated"):
        run("import_index", str(directory))
    Project.objects.update(organization=None)
    Organization.objects.all().delete()
    OrganizationEvent.objects.all().delete()
    with pytest.raises(CommandError, match="already has 3 projects: .* freshly migrated"):
        run("import_index", str(directory))


def test_a_failure_late_in_the_import_rolls_back_rows_and_stored_objects(exported):
    directory, _tokens = exported
    empty_index()
    # The last table names a project the export does not have: found after every object is
    # stored and every other row inserted.
    rewrite_table(directory, "api_tokens", lambda row: {**row, "projects": ["not-there"]})

    with pytest.raises(CommandError, match="refers to projects it does not contain"):
        run("import_index", str(directory), "--dry-run")
    with pytest.raises(CommandError, match="refers to projects it does not contain"):
        run("import_index", str(directory))

    assert not get_user_model().objects.exists()
    assert not Project.objects.exists() and not JournalEntry.objects.exists()
    assert stored_objects() == {}


def test_import_refuses_a_table_that_does_not_match_the_manifest(exported):
    directory, _tokens = exported
    empty_index()
    path = directory / "releases.jsonl"
    path.write_text(path.read_text().replace("broken", "fine!!"))

    with pytest.raises(CommandError, match="releases.jsonl does not match the manifest"):
        run("import_index", str(directory), "--dry-run")


def test_import_refuses_bytes_that_do_not_match_their_row(exported):
    directory, _tokens = exported
    empty_index()
    wheel = next((directory / "files").rglob("demo_one-1.0-py3-none-any.whl"))
    content = bytearray(wheel.read_bytes())
    content[-1] ^= 1
    wheel.write_bytes(bytes(content))

    with pytest.raises(CommandError, match="does not have the sha256 its row records"):
        run("import_index", str(directory), "--dry-run")
    with pytest.raises(CommandError, match="could not store .*demo_one-1.0-py3-none-any.whl"):
        run("import_index", str(directory))
    assert stored_objects() == {} and not get_user_model().objects.exists()


def test_dry_run_checks_everything_and_changes_nothing(exported):
    directory, _tokens = exported
    empty_index()
    out, err = run("import_index", str(directory), "--dry-run", "--every", "1")
    assert "Would import" in out and "the export checks out" in out
    assert "checked: 9/9" in err
    assert not get_user_model().objects.exists() and stored_objects() == {}


def test_verify_finds_rows_that_differ_from_the_export(exported):
    directory, _tokens = exported
    empty_index()
    # Consistent, but not what the database reads back: the field normalizes an IPv6 address
    # written in full to its short form on the way in.
    rewrite_table(
        directory,
        "user_events",
        lambda row: (
            {**row, "ip_address": "2001:0db8:0000:0000:0000:0000:0000:0001"}
            if row["ip_address"] == "2001:db8::1"
            else row
        ),
    )
    with pytest.raises(CommandError, match="verify failed:\nuser_events: "):
        run("import_index", str(directory), "--verify")
    assert not get_user_model().objects.exists() and stored_objects() == {}


def test_export_refuses_a_directory_that_is_not_empty(tmp_path):
    (tmp_path / "something").write_text("x")
    with pytest.raises(CommandError, match="is not empty"):
        run("export_index", str(tmp_path))


def test_export_refuses_an_object_missing_from_storage(exported, tmp_path):
    key = File.objects.first().path
    (storage_root() / key).unlink()
    with pytest.raises(CommandError, match=f"could not read {key} from storage"):
        run("export_index", str(tmp_path / "second"))
    assert not (tmp_path / "second" / "manifest.json").exists()


def test_import_refuses_a_directory_without_a_manifest(tmp_path):
    with pytest.raises(CommandError, match="has no manifest.json"):
        run("import_index", str(tmp_path))


@pytest.mark.parametrize("key", ["../etc/passwd", "/abs/x.whl", "a//b", "a/./b", "a\\b", ""])
def test_storage_keys_from_an_export_stay_inside(key):
    with pytest.raises(BackupError, match="not a plain relative path"):
        checked_key(key)


def test_every_table_of_the_index_is_in_the_layout():
    """A new model in any of this repository's apps must be added to backups.layout.tables()
    (or the export silently loses it)."""
    exported_models = {table.model for table in tables()}
    # Apps at the top of this repository (installed ones live in a venv's site-packages).
    ours = [c for c in apps.get_app_configs() if Path(c.path).parent == settings.BASE_DIR]
    assert {"accounts", "packages"} <= {config.label for config in ours}
    models = {model for config in ours for model in config.get_models()}
    models |= {get_user_model(), Group}
    # ApiToken.projects is a column of api_tokens; auto-created through tables are not models
    # of their own.
    assert models - exported_models - set(DERIVED_MODELS) == set()
