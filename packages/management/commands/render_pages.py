"""manage.py render_pages (--all | --project NAME ... | --prune) [--force] [--dry-run]"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Exists, OuterRef, Q

from accounts.management.base import count_of
from packages import documents
from packages.maintenance import Progress
from packages.models import Project, StoredDocument
from packages.names import lookup_name


def stale_projects() -> Q:
    """Projects missing a current stored copy of some kind (a project whose JSON API has no
    document, having no release, counts as stale: rendering it again is cheap)."""
    current = Q()
    for kind in StoredDocument.Kind.values:
        current &= Q(
            Exists(
                StoredDocument.objects.filter(
                    project_id=OuterRef("pk"),
                    kind=kind,
                    serial=OuterRef("last_serial"),
                    version=documents.document_version(),
                )
            )
        )
    return ~current


class Command(BaseCommand):
    help = (
        "Render and store projects' simple pages and JSON API documents, as the job does after "
        "each change, so reads need not render them: once after upgrading, after changing "
        "SITE_URL or FILES_BASE_URL, and after loading rows without journaled changes (a "
        "bulk import). Skips projects whose stored copies are current unless --force."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--project", action="append", default=[], metavar="NAME", help="Only this project"
        )
        parser.add_argument("--all", action="store_true", help="Every project")
        parser.add_argument(
            "--force", action="store_true", help="Render even the copies that are current"
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Only count the projects that would render"
        )
        parser.add_argument("--every", type=int, default=1000, help="Progress every N projects")
        parser.add_argument(
            "--prune",
            action="store_true",
            help="Instead, delete stored document objects that no row names (older than an hour)",
        )

    def handle(self, *args, project: list[str], force: bool, dry_run: bool, every: int, **options):
        if options["prune"]:
            if project or options["all"]:
                raise CommandError("--prune takes no --all or --project.")
            return self.prune(dry_run=dry_run)
        if bool(project) == options["all"]:
            raise CommandError("Give --all or one or more --project NAME.")
        projects = Project.objects.all()
        if project:
            names = {name: lookup_name(name) for name in project}
            found = set(
                projects.filter(normalized_name__in=[n for n in names.values() if n]).values_list(
                    "normalized_name", flat=True
                )
            )
            unknown = [name for name, normalized in names.items() if normalized not in found]
            if unknown:
                raise CommandError(f"No project named {', '.join(unknown)}")
            projects = projects.filter(normalized_name__in=found)
        if not force:
            projects = projects.filter(stale_projects())
        names = list(projects.order_by("normalized_name").values_list("normalized_name", flat=True))
        if dry_run:
            self.stdout.write(f"Would render {count_of(len(names), 'project')}.")
            return
        progress = Progress(self.stderr.write, "projects", total=len(names), every=every)
        written = 0
        for name in names:
            outcomes = documents.render_project(normalized_name=name, force=force)
            written += sum(1 for outcome in outcomes.values() if outcome == documents.WRITTEN)
            progress.step(name)
        self.stdout.write(
            f"{count_of(len(names), 'project')} rendered: {count_of(written, 'document')} stored."
        )

    def prune(self, *, dry_run: bool) -> None:
        verb = "Would delete" if dry_run else "Deleted"
        count = 0
        for key in documents.prune_objects(dry_run=dry_run):
            count += 1
            self.stderr.write(f"{verb} {key}")
        self.stdout.write(f"{verb} {count_of(count, 'unreferenced document object')}.")
