"""manage.py recompute_sizes [--dry-run] [--enqueue] [--actor NAME]"""

from __future__ import annotations

from django.core.management.base import CommandParser

from accounts.management.base import ChangeCommand, count_of
from packages import maintenance
from packages.jobs import recompute_project_size
from pypi_site.jobs import enqueue_now


class Command(ChangeCommand):
    help = (
        "Find projects whose recorded total size differs from the sum of their files (one "
        "grouped query) and correct them under the project's lock, as uploads take it."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="Only list the differences")
        parser.add_argument(
            "--enqueue", action="store_true", help="Hand the fixes to the job workers (Redis)"
        )
        parser.add_argument("--every", type=int, default=1000, help="Progress every N fixes")

    def handle(self, *args, dry_run: bool, enqueue: bool, every: int, **options):
        progress = maintenance.Progress(self.stderr.write, "fixed", every=every)
        wrong = 0
        for project_id, recorded, actual in maintenance.size_mismatches():
            wrong += 1
            self.stdout.write(f"project {project_id}: recorded {recorded}, files {actual}")
            if dry_run:
                continue
            if enqueue:
                enqueue_now(recompute_project_size, project_id)
            else:
                maintenance.recompute_size(project_id)
            progress.step()
        action = "would fix" if dry_run else ("enqueued" if enqueue else "fixed")
        self.stdout.write(
            f"{count_of(wrong, 'project')} with a wrong total size; {action} {wrong}."
        )
