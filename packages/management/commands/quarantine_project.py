"""manage.py quarantine_project NAME --reason TEXT [--notice TEXT] [--clear] [--freeze-users]
[--dry-run] [--actor NAME]"""

from __future__ import annotations

from django.core.management.base import CommandError, CommandParser

from accounts.management.base import ChangeCommand
from packages import moderation
from packages.releases import find_project


class Command(ChangeCommand):
    help = (
        "Quarantine a project (hidden from the simple index and JSON API, uploads refused), "
        "or lift the quarantine with --clear. Same action as in admin. The reason is for staff; "
        "readers and owners see the notice."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="Project name, any spelling")
        parser.add_argument(
            "--reason", required=True, help="Why; for staff only, kept in the project's events"
        )
        parser.add_argument(
            "--notice",
            default="",
            help="What the project's page and its owners show (default: "
            f"{moderation.DEFAULT_QUARANTINE_NOTICE!r})",
        )
        parser.add_argument("--clear", action="store_true", help="Lift the quarantine instead")
        parser.add_argument(
            "--freeze-users", action="store_true", help="Also freeze everyone with a role on it"
        )
        parser.add_argument("--dry-run", action="store_true", help="Say what would change")

    def handle(self, *args, name: str, reason: str, notice: str, clear: bool, **options):
        project = find_project(name)
        if project is None:
            raise CommandError(f"No project named {name!r}")
        if clear and notice:
            raise CommandError("--notice is for quarantining; a cleared project shows none")
        if clear != project.is_quarantined:
            state = "is quarantined" if project.is_quarantined else "is not quarantined"
            self.stdout.write(f"Nothing to do: {project.name} {state}.")
            return
        notice = notice.strip() or moderation.DEFAULT_QUARANTINE_NOTICE
        if options["dry_run"]:
            if clear:
                self.stdout.write(f"Would clear the quarantine of {project.name}: {reason}")
            else:
                self.stdout.write(f"Would quarantine {project.name}: {reason}")
                self.stdout.write(f"Public notice: {notice}")
            return
        if clear:
            moderation.clear_quarantine(project=project, reason=reason)
            self.stdout.write(f"Cleared the quarantine of {project.name}: {reason}")
            return
        moderation.quarantine_project(
            project=project, reason=reason, notice=notice, freeze_users=options["freeze_users"]
        )
        self.stdout.write(f"Quarantined {project.name}: {reason}")
        self.stdout.write(f"Public notice: {notice}")
