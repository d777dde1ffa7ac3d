"""manage.py verify_storage [--quick] [--fix] [--dry-run] [--start-id N] [--min-age-hours N]"""

from __future__ import annotations

from datetime import timedelta

from django.core.files.storage import storages
from django.core.management.base import BaseCommand, CommandError, CommandParser

from packages import maintenance
from packages.models import File


class Command(BaseCommand):
    help = (
        "Check that every file and PEP 658 metadata file is in storage with its recorded size "
        "and digests, and list stored objects no file refers to (orphans). With --fix, store "
        "missing or wrong metadata again from the wheel, and delete orphans. A missing or "
        "corrupt distribution cannot be repaired here: restore it from a backup. Exits with "
        "status 1 when problems remain."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--quick", action="store_true", help="Check presence and size only, not digests"
        )
        parser.add_argument("--fix", action="store_true", help="Repair metadata, delete orphans")
        parser.add_argument("--dry-run", action="store_true", help="With --fix: only say what")
        parser.add_argument(
            "--no-orphans", action="store_true", help="Skip listing the storage for orphans"
        )
        parser.add_argument(
            "--min-age-hours",
            type=float,
            default=1.0,
            help="Objects younger than this are not orphans (uploads store before they commit)",
        )
        parser.add_argument(
            "--start-id",
            type=int,
            default=0,
            help="Resume a long run: only files with this id or higher (progress shows the id)",
        )
        parser.add_argument("--every", type=int, default=1000, help="Progress every N files")

    def handle(self, *args, quick: bool, fix: bool, dry_run: bool, **options):
        storage = storages["default"]
        files = File.objects.filter(pk__gte=options["start_id"]).order_by("pk")
        progress = maintenance.Progress(
            self.stderr.write, "files", total=files.count(), every=options["every"]
        )
        broken = repaired = 0
        for file in files.iterator(chunk_size=2000):
            report = maintenance.verify_file(file, storage=storage, hashes=not quick)
            progress.step(f"id {file.pk}")
            if not report.problems:
                continue
            self.stdout.write(f"{file.filename}: {'; '.join(report.problems)}")
            if fix and report.metadata_fixable:
                outcome = maintenance.extract_metadata(file.pk, dry_run=dry_run)
                self.stdout.write(f"  metadata: {outcome}")
                if (
                    outcome == "fixed"
                    and not maintenance.verify_file(
                        File.objects.get(pk=file.pk), storage=storage, hashes=not quick
                    ).problems
                ):
                    repaired += 1
                    continue
            broken += 1

        orphans = removed = 0
        if not options["no_orphans"]:
            min_age = timedelta(hours=options["min_age_hours"])
            for key in maintenance.orphan_keys(storage, min_age=min_age):
                orphans += 1
                if fix and not dry_run:
                    storage.delete(key)
                    removed += 1
                    self.stdout.write(f"orphan removed: {key}")
                else:
                    self.stdout.write(f"orphan: {key}")

        self.stdout.write(
            f"{progress.count} files checked: {broken} with problems, {repaired} repaired; "
            f"{orphans} orphans, {removed} removed."
        )
        if broken or orphans > removed:
            raise CommandError("storage does not match the database", returncode=1)
