"""manage.py verify_storage [--quick] [--fix] [--dry-run] [--start-id N] [--min-age-hours N]
[--actor NAME]"""

from __future__ import annotations

from datetime import timedelta

from django.core.files.storage import Storage, storages
from django.core.management.base import CommandError, CommandParser
from django.utils import timezone

from accounts.management.base import ChangeCommand, count_of
from packages import maintenance
from packages.models import File

DEFAULT_MIN_AGE_HOURS = 24.0


def is_young(storage: Storage, key: str, *, min_age: timedelta) -> bool:
    """Stored less than `min_age` ago (an upload stores its objects before its rows commit, and
    a slow one may take a while); an object whose age the storage cannot tell counts as old."""
    try:
        modified = storage.get_modified_time(key)
    except (NotImplementedError, OSError):
        return False
    return modified > timezone.now() - min_age


class Command(ChangeCommand):
    help = (
        "Check that every file and PEP 658 metadata file is in storage with its recorded size "
        "and digests, and list stored objects no file refers to (orphans). With --fix, store "
        "missing or wrong metadata again from the wheel, and delete orphans older than "
        "--min-age-hours (younger ones may be uploads in progress: they are listed apart and "
        "left alone). A missing or corrupt distribution cannot be repaired here: restore it "
        "from a backup. Exits with status 1 when problems remain."
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
            default=DEFAULT_MIN_AGE_HOURS,
            help="Orphans younger than this are listed apart and never removed: they may be "
            f"uploads in progress (default {DEFAULT_MIN_AGE_HOURS:g})",
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
        files = File.all_objects.filter(pk__gte=options["start_id"]).order_by("pk")
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
                        File.all_objects.get(pk=file.pk), storage=storage, hashes=not quick
                    ).problems
                ):
                    repaired += 1
                    continue
            broken += 1

        orphans = young = removed = 0
        if not options["no_orphans"]:
            min_age = timedelta(hours=options["min_age_hours"])
            for key in maintenance.orphan_keys(storage, min_age=timedelta(0)):
                if is_young(storage, key, min_age=min_age):
                    young += 1
                    self.stdout.write(f"young orphan (may be an upload in progress): {key}")
                    continue
                orphans += 1
                if fix and not dry_run:
                    storage.delete(key)
                    removed += 1
                    self.stdout.write(f"orphan removed: {key}")
                else:
                    self.stdout.write(f"orphan{' (would remove)' if fix else ''}: {key}")

        self.stdout.write(
            f"{count_of(progress.count, 'file')} checked: {broken} with problems, "
            f"{repaired} repaired; {count_of(orphans, 'old orphan')}, {removed} removed; "
            f"{count_of(young, 'young orphan')} left alone."
        )
        if broken or orphans > removed:
            raise CommandError("storage does not match the database", returncode=1)
