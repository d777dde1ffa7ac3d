"""manage.py unyank_release PROJECT VERSION"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from packages.releases import ReleaseNotFound, get_release, unyank_release


class Command(BaseCommand):
    help = "Undo a yank: the release is offered to installers again."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("project")
        parser.add_argument("version")

    def handle(self, *args, project: str, version: str, **options):
        try:
            release = get_release(project_name=project, version=version)
        except ReleaseNotFound as exc:
            raise CommandError(str(exc)) from None
        unyank_release(release=release)
        self.stdout.write(f"Unyanked {release}")
