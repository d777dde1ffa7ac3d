"""manage.py clean_upload_temp [--min-age-hours N] [--dry-run]"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.management.base import count_of
from uploads.streaming import remove_stale_upload_files, upload_temp_dir


class Command(BaseCommand):
    help = (
        "Delete temporary upload files older than --min-age-hours from FILE_UPLOAD_TEMP_DIR "
        "(DATA_DIR/tmp by default): what uploads leave when their worker is killed mid-request. "
        "The server runs the same clean-up when it starts; run this one from cron too."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--min-age-hours",
            type=float,
            default=24,
            help="Only files last written at least this many hours ago (default 24); younger "
            "ones may belong to an upload still in progress.",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="List the files, delete nothing."
        )

    def handle(self, *args: str, min_age_hours: float, dry_run: bool, **options: object) -> None:
        if min_age_hours < 0:
            raise CommandError("--min-age-hours cannot be negative.")
        verb = "Would delete" if dry_run else "Deleted"

        def report(path: Path) -> None:
            self.stdout.write(f"{verb} {path}")

        removed = remove_stale_upload_files(
            min_age=timedelta(hours=min_age_hours), dry_run=dry_run, on_remove=report
        )
        self.stdout.write(
            f"{verb} {count_of(len(removed), 'temporary upload file')} older than "
            f"{count_of(min_age_hours, 'hour')} from {upload_temp_dir()}."
        )
