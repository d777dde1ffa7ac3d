"""manage.py unyank_release PROJECT VERSION [--dry-run] [--actor NAME]"""

from __future__ import annotations

from django.core.management.base import CommandParser

from accounts.management.base import ChangeCommand
from packages.management.commands.yank_release import release_or_error
from packages.releases import unyank_release


class Command(ChangeCommand):
    help = "Undo a yank: the release is offered to installers again."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("project")
        parser.add_argument("version")
        parser.add_argument("--dry-run", action="store_true", help="Say what would change")

    def handle(self, *args, project: str, version: str, dry_run: bool, **options):
        release = release_or_error(project_name=project, version=version)
        if not release.yanked:
            # Unyanking twice would journal a change that changed nothing.
            self.stdout.write(f"Nothing to do: {release} is not yanked.")
            return
        if dry_run:
            self.stdout.write(f"Would unyank {release}")
            return
        unyank_release(release=release)
        self.stdout.write(f"Unyanked {release}")
