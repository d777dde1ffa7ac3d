"""manage.py create_api_token USER [--read-only] [--project NAME ...] [--description TEXT]"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.freezing import is_frozen
from accounts.tokens import create_api_token
from packages.permissions import token_scope_projects
from packages.releases import find_project


class Command(BaseCommand):
    help = (
        "Create an upload token for USER and print it alone on the last line. With --project "
        "the token is scoped to those projects, each of which USER must be able to upload to "
        "(a role of their own, through a team, or as an Owner of its organization) or, for a "
        "read token, to read; "
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
        scopable = token_scope_projects(user=user, read_only=read_only)
        for name in project:
            found = find_project(name)
            if found is None:
                raise CommandError(f"No project named {name!r}")
            # The token page's rule: a role (personal, or through a team or as an Owner of the
            # organization) for an upload token; a read token also an organization's projects.
            if not scopable.filter(pk=found.pk).exists():
                wanted = "read" if read_only else "upload to"
                raise CommandError(
                    f"The user {username!r} may not {wanted} project {found.name!r}."
                )
            projects.append(found)
        issued = create_api_token(
            user=user, projects=projects, description=description, read_only=read_only
        )
        scope = ", ".join(p.name for p in projects) or "all of the user's projects"
        kind = "Read-only token" if read_only else "Token"
        self.stderr.write(f"{kind} for {username}, valid for {scope}. It is shown only once:")
        self.stdout.write(issued.plaintext)
