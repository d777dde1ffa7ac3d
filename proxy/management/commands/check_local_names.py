"""manage.py check_local_names [--dry-run]"""

from __future__ import annotations

from django.core.management.base import CommandError, CommandParser

from accounts.management.base import ChangeCommand
from packages.maintenance import Progress
from packages.models import Origin, Project
from proxy import mirror, upstream


class Command(ChangeCommand):
    help = (
        "Ask the upstream index about every local project's name and record which ones it also "
        "lists (admin: Upstream projects, filter 'Local project of the same name'): names taken "
        "upstream after the local project was created, the dependency-confusion risk the upload "
        "guard cannot see. Local projects are never changed. Progress on stderr."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="Only list the names to ask")
        parser.add_argument("--every", type=int, default=100, help="Progress every N names")

    def handle(self, *args, dry_run: bool, every: int, **options):
        if not upstream.enabled():
            raise CommandError("UPSTREAM_INDEX_URL is not set.")
        names = list(
            Project.objects.filter(origin=Origin.LOCAL)
            .order_by("normalized_name")
            .values_list("normalized_name", flat=True)
        )
        if dry_run:
            self.stdout.write(f"Would ask the upstream about {len(names)} local names.")
            return
        progress = Progress(self.stderr.write, "names", total=len(names), every=every)
        found, failed = [], 0
        for name in names:
            try:
                if mirror.check_local_name(name):
                    found.append(name)
            except upstream.UpstreamError as exc:
                self.stderr.write(f"{name}: {exc}")
                failed += 1
            progress.step(name)
        for name in found:
            self.stdout.write(f"also upstream: {name}")
        self.stdout.write(
            f"{len(found)} of {len(names)} local names are also on the upstream; "
            f"{failed} could not be checked."
        )
