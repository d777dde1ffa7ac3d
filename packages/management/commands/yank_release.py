"""manage.py yank_release PROJECT VERSION REASON"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from packages.releases import ReleaseNotFound, get_release, yank_release


class Command(BaseCommand):
    help = "Yank a release (PEP 592): installers skip it unless it is pinned exactly."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("project")
        parser.add_argument("version")
        parser.add_argument("reason", help="Shown to installers and on the project page")
        parser.add_argument("--dry-run", action="store_true", help="Say what would change")

    def handle(self, *args, project: str, version: str, reason: str, dry_run: bool, **options):
        try:
            release = get_release(project_name=project, version=version)
        except ReleaseNotFound as exc:
            raise CommandError(str(exc)) from None
        if dry_run:
            self.stdout.write(f"Would yank {release}: {reason}")
            return
        yank_release(release=release, reason=reason)
        self.stdout.write(f"Yanked {release}: {reason}")
