"""manage.py rerender_descriptions [--all] [--project NAME] [--dry-run] [--enqueue]
[--actor NAME]"""

from __future__ import annotations

from django.core.management.base import CommandError, CommandParser

from accounts.management.base import ChangeCommand, count_of
from packages import maintenance
from packages.jobs import render_description
from packages.models import Release
from packages.releases import find_project
from pypi_site.jobs import enqueue_now


class Command(ChangeCommand):
    help = (
        "Render release descriptions again with the current renderer (the same job uploads "
        "enqueue). By default only releases never rendered; --all for every release."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--all", action="store_true", help="Every release, not just new ones")
        parser.add_argument("--project", help="Only this project's releases")
        parser.add_argument("--dry-run", action="store_true", help="Only count them")
        parser.add_argument(
            "--enqueue", action="store_true", help="Hand each release to the job workers (Redis)"
        )
        parser.add_argument("--every", type=int, default=1000, help="Progress every N releases")

    def handle(self, *args, all: bool, project: str | None, dry_run: bool, **options):
        releases = Release.objects.all()
        if not all:
            releases = releases.filter(description_rendered_at__isnull=True)
        if project:
            found = find_project(project)
            if found is None:
                raise CommandError(f"No project named {project!r}")
            releases = releases.filter(project=found)
        ids = releases.order_by("pk").values_list("pk", flat=True)
        total = ids.count()
        if dry_run:
            self.stdout.write(f"Would render {count_of(total, 'description')}.")
            return
        progress = maintenance.Progress(
            self.stderr.write, "releases", total=total, every=options["every"]
        )
        failed = 0
        for release_id in ids.iterator(chunk_size=2000):
            if options["enqueue"]:
                enqueue_now(render_description, release_id)
            else:
                try:
                    render_description(release_id)
                except Exception as exc:  # Report the release and go on.
                    self.stderr.write(f"release {release_id}: {exc}")
                    failed += 1
            progress.step()
        verb = "enqueued" if options["enqueue"] else "rendered"
        self.stdout.write(
            f"{count_of(progress.count - failed, 'description')} {verb}, {failed} failed."
        )
