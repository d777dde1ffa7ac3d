"""manage.py quarantine_project NAME --reason TEXT [--clear] [--freeze-users] [--dry-run]"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from packages import moderation
from packages.releases import find_project


class Command(BaseCommand):
    help = (
        "Quarantine a project (hidden from the simple index and JSON API, uploads refused), "
        "or lift the quarantine with --clear. Same action as in admin."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="Project name, any spelling")
        parser.add_argument("--reason", required=True, help="Why; kept in the project's events")
        parser.add_argument("--clear", action="store_true", help="Lift the quarantine instead")
        parser.add_argument(
            "--freeze-users", action="store_true", help="Also freeze everyone with a role on it"
        )
        parser.add_argument("--dry-run", action="store_true", help="Say what would change")

    def handle(self, *args, name: str, reason: str, clear: bool, dry_run: bool, **options):
        project = find_project(name)
        if project is None:
            raise CommandError(f"No project named {name!r}")
        verb = "Clear quarantine of" if clear else "Quarantine"
        if clear != project.is_quarantined:
            state = "is quarantined" if project.is_quarantined else "is not quarantined"
            self.stdout.write(f"Nothing to do: {project.name} {state}.")
            return
        if dry_run:
            self.stdout.write(f"Would {verb.lower()} {project.name}: {reason}")
            return
        if clear:
            moderation.clear_quarantine(project=project, reason=reason)
        else:
            moderation.quarantine_project(
                project=project, reason=reason, freeze_users=options["freeze_users"]
            )
        self.stdout.write(f"{verb} {project.name}: {reason}")
