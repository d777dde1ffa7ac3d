"""manage.py backfill_metadata [--all] [--dry-run] [--enqueue] [--actor NAME]"""

from __future__ import annotations

from collections import Counter

from django.core.management.base import CommandParser

from accounts.management.base import ChangeCommand, count_of
from packages import maintenance
from packages.jobs import extract_file_metadata
from packages.models import File, PackageType
from pypi_site.jobs import enqueue_now


class Command(ChangeCommand):
    help = (
        "Store PEP 658 metadata (<file>.metadata) for wheels that lack it, read from the "
        "stored wheel with the upload's own reader. By default only wheels with no recorded "
        "metadata digest; --all also checks every stored .metadata object."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--all", action="store_true", help="Check every wheel")
        parser.add_argument("--dry-run", action="store_true", help="Only count what would change")
        parser.add_argument(
            "--enqueue", action="store_true", help="Hand each wheel to the job workers (Redis)"
        )
        parser.add_argument("--every", type=int, default=500, help="Progress every N wheels")

    def handle(self, *args, all: bool, dry_run: bool, enqueue: bool, every: int, **options):
        wheels = File.objects.filter(packagetype=PackageType.WHEEL)
        if not all:
            wheels = wheels.filter(metadata_sha256="")
        ids = wheels.order_by("pk").values_list("pk", flat=True)
        progress = maintenance.Progress(self.stderr.write, "wheels", total=ids.count(), every=every)
        outcomes: Counter[str] = Counter()
        for file_id in ids.iterator(chunk_size=2000):
            if enqueue and not dry_run:
                enqueue_now(extract_file_metadata, file_id)
                outcomes["enqueued"] += 1
            else:
                try:
                    outcome = maintenance.extract_metadata(file_id, dry_run=dry_run)
                except Exception as exc:  # Report the file and go on.
                    self.stderr.write(f"file {file_id}: {exc}")
                    outcome = "failed"
                outcomes[outcome] += 1
            progress.step()
        summary = ", ".join(f"{n} {outcome}" for outcome, n in sorted(outcomes.items()))
        self.stdout.write(
            f"{count_of(progress.count, 'wheel')} checked: {summary or 'nothing to do'}."
        )
