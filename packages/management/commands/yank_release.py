"""manage.py yank_release PROJECT VERSION REASON [--dry-run] [--actor NAME]"""

from __future__ import annotations

from django.core.management.base import CommandError, CommandParser

from accounts.management.base import ChangeCommand
from packages.models import Release
from packages.releases import find_project, find_release, yank_release


def release_or_error(*, project_name: str, version: str) -> Release:
    """The release, or a CommandError that says whether the project or the version is missing."""
    project = find_project(project_name)
    if project is None:
        raise CommandError(f"No project named {project_name!r}")
    release = find_release(project=project, version=version)
    if release is None:
        raise CommandError(f"Project {project.name!r} has no release {version!r}")
    release.project = project
    return release


class Command(ChangeCommand):
    help = "Yank a release (PEP 592): installers skip it unless it is pinned exactly."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("project")
        parser.add_argument("version")
        parser.add_argument("reason", help="Shown to installers and on the project page")
        parser.add_argument("--dry-run", action="store_true", help="Say what would change")

    def handle(self, *args, project: str, version: str, reason: str, dry_run: bool, **options):
        release = release_or_error(project_name=project, version=version)
        if dry_run:
            self.stdout.write(f"Would yank {release}: {reason}")
            return
        yank_release(release=release, reason=reason)
        self.stdout.write(f"Yanked {release}: {reason}")
