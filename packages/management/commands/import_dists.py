"""manage.py import_dists DIR --user USERNAME [--dry-run]"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from packages import maintenance
from uploads.importing import ImportSkipped, build_form, distribution_paths, import_file


class Command(BaseCommand):
    help = (
        "Import every wheel and sdist under DIR (such as a pypiserver packages folder) as "
        "uploads by USERNAME would make them: same checks, projects owned by that user, "
        "journal entries, PEP 658 metadata. Filenames older tools made are accepted. Files "
        "already imported are left alone, so the command can run again after a failure."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("directory", type=Path)
        parser.add_argument("--user", required=True, help="Owner of the projects it creates")
        parser.add_argument("--dry-run", action="store_true", help="Only read each file's metadata")
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
            if dry_run:
                try:
                    post, _filetype = build_form(path)
                except ImportSkipped as exc:
                    outcomes["skipped"] += 1
                    self.stdout.write(f"skipped {path.name}: {exc}")
                else:
                    outcomes["would import"] += 1
                    self.stdout.write(f"would import {path.name}: {post['name']} {post['version']}")
                continue
            result = import_file(path=path, user=owner)
            outcomes[result.status] += 1
            if result.status in {"failed", "skipped"}:
                self.stdout.write(f"{result.status} {path.name}: {result.message}")
        summary = ", ".join(f"{n} {status}" for status, n in sorted(outcomes.items()))
        self.stdout.write(f"{len(paths)} files in {directory}: {summary or 'none'}.")
        if outcomes["failed"]:
            raise CommandError(f"{outcomes['failed']} files could not be imported", returncode=1)
