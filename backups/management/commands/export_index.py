"""manage.py export_index DIR [--every N]"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.management.base import count_of
from backups.exporting import export_index
from backups.layout import BackupError


class Command(BaseCommand):
    help = (
        "Write the whole index to a new directory: every user (password hashes, 2FA secrets, "
        "addresses, token hashes, events), project, release, file with its bytes, role, "
        "invitation, journal entry, project event, prohibited name, site flag and moderation "
        "state, in the versioned, checksummed layout README's 'Backup and restore' describes. "
        "`import_index DIR` loads it into another database and storage."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("directory", type=Path, help="A new or empty directory")
        parser.add_argument("--every", type=int, default=1000, help="Progress every N files")

    def handle(self, *args, directory: Path, every: int, **options) -> None:
        try:
            manifest = export_index(directory=directory, write=self.stderr.write, every=every)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        rows = sum(entry["rows"] for entry in manifest["tables"].values())
        objects = manifest["objects"]
        self.stdout.write(
            f"Exported {count_of(rows, 'row')} in {count_of(len(manifest['tables']), 'table')} "
            f"and {count_of(objects['count'], 'object')} ({objects['bytes']} bytes) to {directory}."
        )
