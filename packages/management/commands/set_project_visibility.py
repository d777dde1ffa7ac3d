"""manage.py set_project_visibility NAME private|public [--dry-run] [--actor NAME]"""

from __future__ import annotations

from django.core.management.base import CommandError, CommandParser

from accounts.management.base import ChangeCommand
from packages.releases import find_project
from packages.visibility import set_project_visibility


class Command(ChangeCommand):
    help = (
        "Make a project private (only its collaborators and staff see it; a 404 to everyone "
        "else, and absent from every listing, while its name stays taken) or public again. "
        "The same change as the owners' settings page."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="Project name, any spelling")
        parser.add_argument("visibility", choices=["private", "public"])
        parser.add_argument("--dry-run", action="store_true", help="Say what would change")

    def handle(self, *args, name: str, visibility: str, dry_run: bool, **options):
        project = find_project(name)
        if project is None:
            raise CommandError(f"No project named {name!r}")
        private = visibility == "private"
        if project.is_private == private:
            self.stdout.write(f"Nothing to do: {project.name} is already {visibility}.")
            return
        if dry_run:
            self.stdout.write(f"Would make {project.name} {visibility}.")
            return
        set_project_visibility(project=project, private=private)
        self.stdout.write(f"Made {project.name} {visibility}.")
