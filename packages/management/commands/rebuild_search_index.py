"""manage.py rebuild_search_index [--batch-size N] [--dry-run]"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandParser
from django.db import connection

from packages.models import Project
from packages.search_documents import rebuild_search_documents, uses_documents


class Command(BaseCommand):
    help = (
        "Rewrite every project's search document (name, latest release's summary, keywords "
        "and description) from the current rows: once after migration 0011, and whenever "
        "documents may have drifted. PostgreSQL only; SQLite search reads the rows directly. "
        "Safe to run while the index serves (each batch is its own short statement)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--batch-size", type=int, default=10_000, help="Project ids per statement"
        )
        parser.add_argument("--dry-run", action="store_true", help="Say how many would change")

    def handle(self, *args, batch_size: int, dry_run: bool, **options):
        if not uses_documents():
            self.stdout.write(f"Nothing to do on {connection.vendor}: search reads the rows.")
            return
        projects = Project.all_objects.count()
        if dry_run:
            self.stdout.write(f"Would rewrite the search documents of {projects:,} projects.")
            return

        def progress(written: int, ids_done: int) -> None:
            self.stdout.write(f"{written:,} documents written ({ids_done:,} project ids read)")

        written = rebuild_search_documents(
            batch_size=max(1, batch_size), progress=progress if options["verbosity"] else None
        )
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE packages_searchdocument")
        self.stdout.write(f"Rewrote {written:,} search documents.")
