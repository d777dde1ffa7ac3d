"""manage.py write_static_simple [--dry-run] [--actor NAME]"""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import CommandParser

from accounts.management.base import ChangeCommand, count_of
from packages import static_pages
from packages.maintenance import Progress
from packages.models import Project


class Command(ChangeCommand):
    help = (
        "Write every project's static simple pages (HTML, PEP 691 JSON, gzip) and the /simple/ "
        "root to storage, as the jobs do after each change when STATIC_SIMPLE_PAGES is on; "
        "removes the pages of projects that no longer exist. Run it once when turning "
        "STATIC_SIMPLE_PAGES on, and after changing FILES_BASE_URL or upgrading."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="Only count what would be written or removed"
        )
        parser.add_argument("--every", type=int, default=1000, help="Progress every N projects")

    def handle(self, *args, dry_run: bool, every: int, **options):
        if not settings.STATIC_SIMPLE_PAGES:
            self.stderr.write("Note: STATIC_SIMPLE_PAGES is off, so changes will not keep these.")
        names = list(
            Project.objects.order_by("normalized_name").values_list("normalized_name", flat=True)
        )
        gone = sorted(set(static_pages.published_names()) - set(names))
        if dry_run:
            self.stdout.write(
                f"Would write {count_of(len(names), 'project')} and the root, and remove "
                f"{count_of(len(gone), 'deleted project')}'s pages."
            )
            for name in gone:
                self.stdout.write(f"would remove {name}")
            return
        progress = Progress(self.stderr.write, "projects", total=len(names), every=every)
        outcomes: dict[str, int] = {}
        for name in names:
            outcome = static_pages.publish_project(normalized_name=name, force=True)
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
            progress.step(name)
        for name in gone:
            static_pages.publish_project(normalized_name=name)
            self.stdout.write(f"removed {name}")
        static_pages.publish_root(force=True)
        self.stdout.write(
            f"{count_of(len(names), 'project')}: {outcomes.get(static_pages.WRITTEN, 0)} written, "
            f"{outcomes.get(static_pages.UNCHANGED, 0)} unchanged; "
            f"{count_of(len(gone), 'deleted project')} removed; root written."
        )
