"""manage.py prohibit_name NAME --reason TEXT [--allow] [--dry-run] [--actor NAME]"""

from __future__ import annotations

from django.core.management.base import CommandError, CommandParser

from accounts.management.base import ChangeCommand
from packages import moderation
from packages.models import ProhibitedProjectName, Project
from packages.names import is_valid_name, normalize_name


class Command(ChangeCommand):
    help = (
        "Prohibit a project name: uploads may not create it or any confusable spelling of it. "
        "An existing project of that name stays (remove it in admin). --allow lifts it."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument("--reason", required=True, help="Kept as the prohibition's comment")
        parser.add_argument("--allow", action="store_true", help="Lift the prohibition instead")
        parser.add_argument("--dry-run", action="store_true", help="Say what would change")

    def handle(self, *args, name: str, reason: str, allow: bool, dry_run: bool, **options):
        if not is_valid_name(name):
            raise CommandError(f"{name!r} is not a valid project name")
        exists = ProhibitedProjectName.objects.filter(normalized_name=normalize_name(name))
        if allow and not exists.exists():
            self.stdout.write(f"Nothing to do: {name} is not prohibited.")
            return
        if dry_run:
            self.stdout.write(f"Would {'allow' if allow else 'prohibit'} {name}: {reason}")
            return
        if allow:
            moderation.allow_name(name=name, reason=reason)
            self.stdout.write(f"Allowed {name} again: {reason}")
            return
        moderation.prohibit_name(name=name, comment=reason)
        note = ""
        if Project.objects.filter(normalized_name=normalize_name(name)).exists():
            note = " (a project of that name exists and was left alone)"
        self.stdout.write(f"Prohibited {name}: {reason}{note}")
