"""manage.py create_api_token USER [--read-only] [--project NAME ...] [--description TEXT]"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.freezing import is_frozen
from accounts.tokens import create_api_token
from packages.permissions import see_collaborators_denial
from packages.releases import find_project


class Command(BaseCommand):
    help = (
        "Create an upload token for USER and print it alone on the last line. With --project "
        "the token is scoped to those projects, on each of which USER must have a role; "
        "without, it is user-wide (and may create projects). With --read-only it downloads "
        "(private projects included) and never uploads. A frozen or inactive user gets none."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument(
            "--project", action="append", default=[], help="Scope to this project (repeatable)"
        )
        parser.add_argument("--description", default="", help="A note to recognise the token by")
        parser.add_argument(
            "--read-only", action="store_true", help="A read token: installs, never uploads"
        )

    def handle(
        self,
        *args,
        username: str,
        project: list[str],
        description: str,
        read_only: bool,
        **options,
    ):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}")
        # find_api_token would refuse such a token anyway: better to say so now than to print
        # a token that fails at the first upload.
        if is_frozen(user):
            raise CommandError(f"The user {username!r} is frozen; unfreeze them first.")
        if not user.is_active:
            raise CommandError(f"The user {username!r} is inactive.")
        projects = []
        for name in project:
            found = find_project(name)
            if found is None:
                raise CommandError(f"No project named {name!r}")
            # Any role will do, as on the token page (which offers only the user's projects).
            if (denial := see_collaborators_denial(user=user, project=found)) is not None:
                raise CommandError(denial.message)
            projects.append(found)
        issued = create_api_token(
            user=user, projects=projects, description=description, read_only=read_only
        )
        scope = ", ".join(p.name for p in projects) or "all of the user's projects"
        kind = "Read-only token" if read_only else "Token"
        self.stderr.write(f"{kind} for {username}, valid for {scope}. It is shown only once:")
        self.stdout.write(issued.plaintext)
