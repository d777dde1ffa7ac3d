"""manage.py import_dists DIR --user USERNAME [--dry-run] [--actor NAME]"""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.management.base import CommandError, CommandParser
from django.db import transaction
from django.test.utils import override_settings

from accounts.management.base import ChangeCommand, count_of
from packages import maintenance
from uploads.importing import ImportResult, distribution_paths, import_file

DRY_RUN_LABELS = {"created": "would create", "exists": "exists", "failed": "would fail"}


class _RolledBack(Exception):
    def __init__(self, result: ImportResult) -> None:
        self.result = result


def try_import(*, path: Path, user: AbstractBaseUser) -> ImportResult:
    """import_file with every check an import makes (the upload's own, including those under
    the project's lock), its rows rolled back and its objects never stored. Each file is tried
    alone: a dry run does not see the files before it in the same folder."""
    with tempfile.TemporaryDirectory(prefix="import-dry-run-") as scratch:
        # Objects go to a scratch folder, removed with it, so the storage path is exercised
        # (write, verify, link) without touching the real one.
        discard = {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": scratch},
        }
        with override_settings(STORAGES={**settings.STORAGES, "default": discard}):
            try:
                with transaction.atomic():
                    raise _RolledBack(import_file(path=path, user=user))
            except _RolledBack as rolled_back:
                return rolled_back.result


class Command(ChangeCommand):
    help = (
        "Import every wheel and sdist under DIR (such as a pypiserver packages folder) as "
        "uploads by USERNAME would make them: same checks, projects owned by that user, "
        "journal entries, PEP 658 metadata. Filenames older tools made are accepted. Files "
        "already imported are left alone, so the command can run again after a failure. "
        "Each file is listed with its outcome."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("directory", type=Path)
        parser.add_argument("--user", required=True, help="Owner of the projects it creates")
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Run every check of a real import, then roll it back and store nothing",
        )
        parser.add_argument("--every", type=int, default=100, help="Progress every N files")

    def handle(self, *args, directory: Path, user: str, dry_run: bool, every: int, **options):
        if not directory.is_dir():
            raise CommandError(f"{directory} is not a directory")
        owner = get_user_model().objects.filter(username=user).first()
        if owner is None:
            raise CommandError(f"No user named {user!r}")
        paths = list(distribution_paths(directory))
        progress = maintenance.Progress(self.stderr.write, "files", total=len(paths), every=every)
        outcomes: Counter[str] = Counter()
        for path in paths:
            progress.step()
            result = (try_import if dry_run else import_file)(path=path, user=owner)
            label = DRY_RUN_LABELS.get(result.status, result.status) if dry_run else result.status
            outcomes[label] += 1
            detail = f": {result.message}" if result.message else ""
            self.stdout.write(f"{label} {path.relative_to(directory)}{detail}")
        summary = ", ".join(f"{n} {label}" for label, n in sorted(outcomes.items()))
        self.stdout.write(
            f"{count_of(len(paths), 'file')} in {directory}: {summary or 'none'}"
            f"{' (dry run: nothing was written)' if dry_run else ''}."
        )
        if failed := outcomes["would fail" if dry_run else "failed"]:
            verb = "would not import" if dry_run else "could not be imported"
            raise CommandError(f"{count_of(failed, 'file')} {verb}", returncode=1)
