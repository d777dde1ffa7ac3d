"""manage.py archive_project NAME [--note TEXT] [--unarchive] [--dry-run] [--actor NAME]"""

from __future__ import annotations

from django.core.management.base import CommandError, CommandParser

from accounts.management.base import ChangeCommand
from packages import lifecycle
from packages.releases import find_project


class Command(ChangeCommand):
    help = (
        "Archive a project (PEP 792 'archived': still installable, uploads refused), or make "
        "it active again with --unarchive. Same action as on the owners' settings page."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="Project name, any spelling")
        parser.add_argument(
            "--note",
            default="",
            help="Public reason shown with the status (simple API, project page); "
            f"up to {lifecycle.MAX_NOTE_LENGTH} characters",
        )
        parser.add_argument("--unarchive", action="store_true", help="Unarchive it instead")
        parser.add_argument("--dry-run", action="store_true", help="Say what would change")

    def handle(self, *args, name: str, note: str, unarchive: bool, **options):
        project = find_project(name)
        if project is None:
            raise CommandError(f"No project named {name!r}")
        if unarchive and note:
            raise CommandError("--note is for archiving; an active project shows none")
        if len(note.strip()) > lifecycle.MAX_NOTE_LENGTH:
            raise CommandError(f"--note is longer than {lifecycle.MAX_NOTE_LENGTH} characters")
        verb = "unarchive" if unarchive else "archive"
        if options["dry_run"]:
            self.stdout.write(f"Would {verb} {project.name}.")
            return
        try:
            if unarchive:
                lifecycle.unarchive_project(project=project, by=None)
            else:
                lifecycle.archive_project(project=project, by=None, note=note)
        except lifecycle.LifecycleError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(f"{verb.capitalize()}d {project.name}.")
