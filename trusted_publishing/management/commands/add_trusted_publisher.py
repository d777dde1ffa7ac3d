"""manage.py add_trusted_publisher PROJECT --kind KIND ... [--pending --user USERNAME]"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError, CommandParser
from django.db import transaction

from accounts.management.base import ChangeCommand
from packages.releases import find_project
from trusted_publishing.models import Kind, OidcIssuer
from trusted_publishing.publishers import (
    PublisherError,
    add_pending_publisher,
    add_publisher,
)


class DryRun(Exception):
    pass


class Command(ChangeCommand):
    help = (
        "Add a trusted publisher to PROJECT, or with --pending --user USERNAME a pending "
        "publisher that creates PROJECT, owned by USERNAME, on its first use. GitHub: "
        "--repository OWNER/NAME --repository-owner-id ID --workflow FILE [--environment ENV]; "
        "GitLab: --repository NAMESPACE/PROJECT --workflow PATH [--environment ENV] "
        "[--issuer-url URL]; Google: --email ADDR [--subject SUB]; generic: --issuer NAME "
        "--claim NAME=VALUE (one per claim the issuer's rules name)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("project")
        parser.add_argument("--kind", required=True, choices=Kind.values)
        parser.add_argument("--repository", default="", help="OWNER/NAME or NAMESPACE/PROJECT")
        parser.add_argument("--repository-owner-id", default="", help="GitHub: the owner's id")
        parser.add_argument("--workflow", default="", help="Workflow file or CI file path")
        parser.add_argument("--environment", default="")
        parser.add_argument("--issuer-url", default="", help="GitLab: a self-managed instance")
        parser.add_argument("--email", default="", help="Google: the service account")
        parser.add_argument("--subject", default="", help="Google: the subject (optional)")
        parser.add_argument("--issuer", default="", help="Generic: the registered issuer's name")
        parser.add_argument(
            "--claim", action="append", default=[], help="Generic: NAME=VALUE (repeatable)"
        )
        parser.add_argument("--pending", action="store_true", help="A pending publisher")
        parser.add_argument("--user", default="", help="With --pending: who will own PROJECT")
        parser.add_argument("--dry-run", action="store_true", help="Check, change nothing")

    def _fields(self, options: dict) -> dict[str, object]:
        owner, _, repository = options["repository"].rpartition("/")
        fields: dict[str, object] = {
            "kind": options["kind"],
            "owner": owner,
            "repository": repository,
            "owner_id": options["repository_owner_id"],
            "workflow": options["workflow"],
            "environment": options["environment"],
            "issuer_url": options["issuer_url"],
            "email": options["email"],
            "subject": options["subject"],
        }
        if options["kind"] == Kind.GENERIC:
            issuer = OidcIssuer.objects.filter(name=options["issuer"]).first()
            if issuer is None:
                raise CommandError(f"No registered OIDC issuer named {options['issuer']!r}")
            claims = {}
            for item in options["claim"]:
                name, eq, value = item.partition("=")
                if not eq:
                    raise CommandError(f"--claim takes NAME=VALUE, not {item!r}")
                claims[name.strip()] = value.strip()
            fields.update(issuer=issuer, claims=claims)
        return fields

    def handle(self, *args, project: str, **options) -> None:
        fields = self._fields(options)
        try:
            with transaction.atomic():
                if options["pending"]:
                    user = get_user_model().objects.filter(username=options["user"]).first()
                    if user is None:
                        raise CommandError(f"--pending needs --user: no user {options['user']!r}")
                    added = add_pending_publisher(project_name=project, by=user, **fields)
                    done = f"Added a pending publisher for {project} ({added.specifier})"
                else:
                    found = find_project(project)
                    if found is None:
                        raise CommandError(
                            f"No project named {project!r} (use --pending --user to create it)"
                        )
                    added = add_publisher(project=found, by=None, **fields)
                    done = f"Added to {found.name}: {added.specifier}"
                if options["dry_run"]:
                    raise DryRun
        except PublisherError as exc:
            raise CommandError(str(exc)) from None
        except DryRun:
            done = f"Dry run, nothing changed. Would have: {done[0].lower()}{done[1:]}"
        self.stdout.write(done)
