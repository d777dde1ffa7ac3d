"""manage.py freeze_user USERNAME --reason TEXT [--unfreeze] [--dry-run] [--actor NAME]"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError, CommandParser

from accounts import moderation
from accounts.freezing import is_frozen
from accounts.management.base import ChangeCommand


class Command(ChangeCommand):
    help = (
        "Freeze a user (no login, no uploads, every API token refused), or lift it with "
        "--unfreeze. Same action as in admin."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--reason", required=True, help="Kept in the user's history")
        parser.add_argument("--unfreeze", action="store_true", help="Unfreeze instead")
        parser.add_argument("--dry-run", action="store_true", help="Say what would change")

    def handle(self, *args, username: str, reason: str, unfreeze: bool, dry_run: bool, **opts):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}")
        if is_frozen(user) != unfreeze:
            state = "frozen" if is_frozen(user) else "not frozen"
            self.stdout.write(f"Nothing to do: {username} is {state}.")
            return
        verb = "unfreeze" if unfreeze else "freeze"
        if dry_run:
            self.stdout.write(f"Would {verb} {username}: {reason}")
            return
        if unfreeze:
            moderation.unfreeze_user(user=user, reason=reason)
        else:
            moderation.freeze_user(user=user, reason=reason)
        self.stdout.write(f"{'Unfroze' if unfreeze else 'Froze'} {username}: {reason}")
