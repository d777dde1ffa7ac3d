"""manage.py purge_deleted [--older-than-days N] [--project NAME] [--file FILENAME] [--dry-run]
[--actor NAME]"""

from __future__ import annotations

from datetime import timedelta

from django.core.management.base import CommandError, CommandParser
from django.utils import timezone

from accounts.management.base import ChangeCommand, count_of
from packages import maintenance, releases
from packages.names import lookup_name


class Command(ChangeCommand):
    help = (
        "Remove files that owners deleted (kept, rows and bytes, for the point-in-time view "
        "/as-of/) for good: their rows and stored objects go, so they are gone at every moment "
        "too; a deleted release or project goes with its last file. Choose them by age "
        "(retention), by project or by filename (malware, legal). Staff removals in the admin "
        "already purge."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--older-than-days",
            type=float,
            help="Only files deleted at least this many days ago (a retention period)",
        )
        parser.add_argument("--project", default="", help="Only this project's deleted files")
        parser.add_argument("--file", default="", help="Only the deleted file of this name")
        parser.add_argument("--dry-run", action="store_true", help="Only list what would go")
        parser.add_argument("--every", type=int, default=100, help="Progress every N files")

    def handle(self, *args, dry_run: bool, every: int, **options):
        days, name, filename = options["older_than_days"], options["project"], options["file"]
        if days is None and not name and not filename:
            raise CommandError("Say which: --older-than-days, --project or --file.")
        if days is not None and days < 0:
            raise CommandError("--older-than-days must not be negative.")
        normalized = lookup_name(name) if name else ""
        if normalized is None:
            raise CommandError(f"Not a project name: {name!r}.")
        files = releases.deleted_files(
            deleted_before=timezone.now() - timedelta(days=days) if days is not None else None,
            normalized_name=normalized,
            filename=filename,
        )
        progress = maintenance.Progress(
            self.stderr.write, "purged", total=files.count(), every=every
        )
        count = 0
        for file in files.iterator(chunk_size=500):
            count += 1
            self.stdout.write(f"{file.release.project.name} {file.release.version} {file.filename}")
            if not dry_run:
                releases.purge_deleted_file(file=file)
            progress.step()
        verb = "would purge" if dry_run else "purged"
        self.stdout.write(f"{verb} {count_of(count, 'deleted file')}.")
